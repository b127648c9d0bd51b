//! What each adapter makes of a desk's answer, as pure functions over the bytes: the
//! adapters call these on live answers, the fuzz targets and tests on recorded or
//! arbitrary ones. Each desk's readers live beside its adapter (`<desk>::answers`, next to
//! the answer types they read); this module gathers them under one name, dispatches to all
//! of them ([`read_any`]) and holds their seeds and hostile-input tests.
//!
//! A desk is somebody else's product, and so is whatever stands between it and the
//! collector (a proxy's error page, a truncated body): every reader here takes the body as
//! `&[u8]` plus the few settings its reading depends on (a [`Reading`](servicenow::Reading)
//! per desk, which the adapter builds from its config and whose `Default` is the adapter's
//! default config), and returns the adapter's [`DeskResult`]. An answer that cannot be read
//! is [`DeskError::Transient`] naming what was wrong, as it was before these functions
//! existed; no reader panics, whatever the bytes (see [`read_any`] and the tests).

use crate::{http, DeskError, DeskResult};

pub use crate::Page;

/// A non-2xx answer: the error naming `what` and quoting the start of the body (any bytes).
/// This is [`http::send`]'s classification, without the network.
pub fn refused(status: u16, what: &str, body: &[u8]) -> DeskResult<DeskError> {
    let status = reqwest::StatusCode::from_u16(status)
        .map_err(|_| DeskError::transient(format!("{what}: HTTP status {status} is not one")))?;
    Ok(http::refused(status, None, what, body))
}

pub use crate::file::answers as file;
pub use crate::glpi::answers as glpi;
pub use crate::jira::answers as jira;
pub use crate::rt5::answers as rt5;
pub use crate::servicenow::answers as servicenow;
pub use crate::topdesk::answers as topdesk;
pub use crate::webhook::answers as webhook;
pub use crate::zammad::answers as zammad;
/// The readers [`read_any`] routes to, in selector order.
const READERS: usize = 31;

/// Routes `body` to one answer reader, `selector % 31`, with the adapters' default
/// settings (built once) and the key `tilsyn-0123`; never panics, and the result is
/// dropped. In order:
///
/// | selector | reader | reads |
/// |---|---|---|
/// | 0 | [`servicenow::record`] | a Table API record answer |
/// | 1 | [`servicenow::updated`] | a PATCH answer (record with `sys_id`) |
/// | 2 | [`servicenow::created`] | the create answer |
/// | 3 | [`servicenow::found`] | the search answer |
/// | 4 | [`servicenow::status`] | the read-back answer |
/// | 5 | [`jira::created`] | the create answer |
/// | 6 | [`jira::comment`] | a comment answer |
/// | 7 | [`jira::issue`] | an issue with its status |
/// | 8 | [`jira::status`] | the read-back answer |
/// | 9 | [`jira::transitions`] | the transitions list |
/// | 10 | [`jira::cloud_page`] | a Cloud search page |
/// | 11 | [`jira::dc_page`] | a Data Center search page (from 0) |
/// | 12 | [`rt5::created`] | the create answer (Location `/REST/2.0/ticket/7`) |
/// | 13 | [`rt5::ticket`] | `GET /ticket/:id` |
/// | 14 | [`rt5::status`] | the read-back answer |
/// | 15 | [`rt5::search_page`] | a search page (page 1) |
/// | 16 | [`rt5::messages`] | a comment answer's messages |
/// | 17 | [`glpi::session`] | the `initSession` answer |
/// | 18 | [`glpi::created`] | the create answer |
/// | 19 | [`glpi::search_page`] | a search page (rows 0-49, 206, `Content-Range: 0-49/120`) |
/// | 20 | [`glpi::ticket`] | `GET Ticket/{id}` |
/// | 21 | [`topdesk::created`] | the create answer |
/// | 22 | [`topdesk::search_page`] | a search page (206) |
/// | 23 | [`topdesk::ticket`] | `GET /incidents/id/{id}` |
/// | 24 | [`zammad::created`] | the create answer |
/// | 25 | [`zammad::search_page`] | a search page (50 per page) |
/// | 26 | [`zammad::ticket`] | `GET /tickets/{id}` |
/// | 27 | [`webhook::created`] | the receiver's create answer |
/// | 28 | [`webhook::found`] | the receiver's search answer |
/// | 29 | [`file::replay`] | the file desk's JSON lines |
/// | 30 | [`refused`] | an error body (HTTP 400) |
pub fn read_any(selector: u8, body: &[u8]) {
    let _ = read(usize::from(selector) % READERS, body);
}

/// Settings for [`read_any`], built once.
struct Readings {
    servicenow: servicenow::Reading,
    jira: jira::Reading,
    rt5: rt5::Reading,
    glpi: glpi::Reading,
    topdesk: topdesk::Reading,
    zammad: zammad::Reading,
}

fn readings() -> &'static Readings {
    static R: std::sync::OnceLock<Readings> = std::sync::OnceLock::new();
    R.get_or_init(|| Readings {
        servicenow: Default::default(),
        jira: Default::default(),
        rt5: Default::default(),
        glpi: Default::default(),
        topdesk: Default::default(),
        zammad: Default::default(),
    })
}

const KEY: &str = "tilsyn-0123";

/// Reader `n` on `body`, its result as text (for the tests).
fn read(n: usize, body: &[u8]) -> String {
    let r = readings();
    let what = "reading";
    match n {
        0 => format!("{:?}", servicenow::record(body, what)),
        1 => format!("{:?}", servicenow::updated(body, what)),
        2 => format!("{:?}", servicenow::created(&r.servicenow, body)),
        3 => format!("{:?}", servicenow::found(&r.servicenow, body)),
        4 => format!("{:?}", servicenow::status(&r.servicenow, body)),
        5 => format!("{:?}", jira::created(&r.jira, body)),
        6 => format!("{:?}", jira::comment(body, what)),
        7 => format!("{:?}", jira::issue(body, what)),
        8 => format!("{:?}", jira::status(body)),
        9 => format!("{:?}", jira::transitions(body)),
        10 => format!("{:?}", jira::cloud_page(&r.jira, body, KEY)),
        11 => format!("{:?}", jira::dc_page(&r.jira, body, KEY, 0)),
        12 => format!("{:?}", rt5::created(body, Some("/REST/2.0/ticket/7"))),
        13 => format!("{:?}", rt5::ticket(body, what)),
        14 => format!("{:?}", rt5::status(&r.rt5, body, what)),
        15 => format!("{:?}", rt5::search_page(&r.rt5, body, KEY, 1)),
        16 => format!("{:?}", rt5::messages(body)),
        17 => format!("{:?}", glpi::session(body)),
        18 => format!("{:?}", glpi::created(&r.glpi, body)),
        19 => format!(
            "{:?}",
            glpi::search_page(
                &r.glpi,
                body,
                KEY,
                glpi::Range {
                    start: 0,
                    page_size: 50,
                    partial: true,
                    content_range: Some("0-49/120"),
                }
            )
        ),
        20 => format!("{:?}", glpi::ticket(&r.glpi, body, what)),
        21 => format!("{:?}", topdesk::created(&r.topdesk, body)),
        22 => format!("{:?}", topdesk::search_page(&r.topdesk, body, KEY, 206)),
        23 => format!("{:?}", topdesk::ticket(body, what)),
        24 => format!("{:?}", zammad::created(&r.zammad, body)),
        25 => format!("{:?}", zammad::search_page(&r.zammad, body, 50)),
        26 => format!("{:?}", zammad::ticket(&r.zammad, body, what)),
        27 => format!("{:?}", webhook::created(KEY, body)),
        28 => format!("{:?}", webhook::found(KEY, body)),
        29 => format!("{:?}", file::replay(body, KEY)),
        _ => format!("{:?}", refused(400, what, body)),
    }
}

/// A fixture under `tests/fixtures/desks/`.
macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/desks/", $path)) as &[u8]
    };
}

/// The answer body of a recorded RT exchange: what follows the last `<` line.
fn rt_body(text: &[u8]) -> &[u8] {
    text.windows(3)
        .rposition(|w| w == b"\n<\n")
        .map_or(text, |i| &text[i + 3..])
}

/// Every fixture under `tests/fixtures/desks/` (recorded for RT, reconstructed for the
/// others, see its README), as `(selector, body)` for [`read_any`]: the seed corpus of
/// the `desk_answers` fuzz target.
pub fn seeds() -> Vec<(u8, Vec<u8>)> {
    let rt = |n: u8, text: &[u8]| (n, rt_body(text).to_vec());
    let plain = |n: u8, body: &[u8]| (n, body.to_vec());
    let sn_create = fixture!("servicenow/create.json");
    let sn_state = fixture!("servicenow/read-state.json");
    let sn_back = fixture!("servicenow/read-back-resolved.json");
    let jira_status = fixture!("jira/issue-status.json");
    let jira_done = fixture!("jira/read-back-done.json");
    let rt_tickets: [&[u8]; 5] = [
        fixture!("rt5/08-read-ticket-new.txt"),
        fixture!("rt5/10-read-ticket-after-comment.txt"),
        fixture!("rt5/12-read-ticket-after-take.txt"),
        fixture!("rt5/14-read-ticket-open.txt"),
        fixture!("rt5/18-read-ticket-resolved.txt"),
    ];
    let mut out = vec![
        plain(0, sn_state),
        plain(0, sn_back),
        plain(1, sn_create),
        plain(1, sn_state),
        plain(2, sn_create),
        plain(3, fixture!("servicenow/find.json")),
        plain(3, fixture!("servicenow/find-none.json")),
        plain(4, sn_back),
        plain(4, sn_state),
        plain(5, fixture!("jira/create.json")),
        plain(6, fixture!("jira/comment.json")),
        plain(7, jira_status),
        plain(7, jira_done),
        plain(8, jira_done),
        plain(8, jira_status),
        plain(9, fixture!("jira/transitions.json")),
        plain(10, fixture!("jira/search-cloud.json")),
        plain(11, fixture!("jira/search-dc.json")),
        rt(12, fixture!("rt5/01-create-ticket.txt")),
        rt(12, fixture!("rt5/27-create-second-ticket.txt")),
    ];
    for t in rt_tickets {
        out.push(rt(13, t));
        out.push(rt(14, t));
    }
    for t in [
        fixture!("rt5/02-search-cf-quoted-open.txt"),
        fixture!("rt5/03-search-cf-unquoted.txt"),
        fixture!("rt5/04-search-cf-with-fields.txt"),
        fixture!("rt5/04b-search-customfield-long-form-quoted.txt"),
        fixture!("rt5/04c-search-cf-active.txt"),
        fixture!("rt5/05-search-cf-no-match.txt"),
        fixture!("rt5/19-search-cf-open-after-resolve.txt"),
        fixture!("rt5/19a-search-cf-active-after-resolve.txt"),
        fixture!("rt5/28-search-pagination-page1.txt"),
        fixture!("rt5/28a-search-pagination-page2.txt"),
    ] {
        out.push(rt(15, t));
    }
    for t in [
        fixture!("rt5/09-comment.txt"),
        fixture!("rt5/11-take.txt"),
        fixture!("rt5/13-set-status-open.txt"),
        fixture!("rt5/16-update-cf-and-priority.txt"),
        fixture!("rt5/17-resolve.txt"),
        fixture!("rt5/20-resolve-again.txt"),
    ] {
        out.push(rt(16, t));
    }
    out.extend([
        plain(17, fixture!("glpi/init-session.json")),
        plain(18, fixture!("glpi/create.json")),
        plain(19, fixture!("glpi/search.json")),
        plain(20, fixture!("glpi/ticket.json")),
        plain(21, fixture!("topdesk/create.json")),
        plain(22, fixture!("topdesk/search.json")),
        plain(23, fixture!("topdesk/incident.json")),
        plain(24, fixture!("zammad/create.json")),
        plain(25, fixture!("zammad/search.json")),
        plain(26, fixture!("zammad/ticket.json")),
        plain(27, fixture!("webhook/create.json")),
        plain(28, fixture!("webhook/search.json")),
        plain(29, fixture!("file/incidents.jsonl")),
    ]);
    for t in [
        fixture!("rt5/04a-search-customfield-long-form-unquoted.txt"),
        fixture!("rt5/06-search-cf-without-braces.txt"),
        fixture!("rt5/07-search-invalid-query.txt"),
        fixture!("rt5/21-unauthenticated.txt"),
        fixture!("rt5/22-bad-token.txt"),
        fixture!("rt5/24-create-invalid-queue.txt"),
        fixture!("rt5/25-create-queue-without-rights.txt"),
        fixture!("rt5/26-read-missing-ticket.txt"),
        fixture!("rt5/29-create-non-json.txt"),
    ] {
        out.push(rt(30, t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TicketRef, TicketStatus};

    fn ms(s: &str) -> i64 {
        crate::utc_ms(s).unwrap()
    }

    fn rt(text: &[u8]) -> &[u8] {
        rt_body(text)
    }

    #[test]
    fn every_reader_has_a_seed_and_every_seed_reads() {
        let seeds = seeds();
        for n in 0..READERS {
            assert!(
                seeds.iter().any(|(s, _)| usize::from(*s) == n),
                "reader {n} has no seed"
            );
        }
        // Recorded and reconstructed answers are read without an error (the readers that
        // fail on a valid answer do so on purpose: none here).
        for (s, b) in &seeds {
            let out = read(usize::from(*s), b);
            assert!(!out.starts_with("Err"), "seed for reader {s}: {out}");
        }
    }

    #[test]
    fn servicenow_answers() {
        let r = servicenow::Reading::default();
        let t = servicenow::created(&r, fixture!("servicenow/create.json")).unwrap();
        assert_eq!(t.id, "9d385017c611228701d22104cc95c371");
        assert_eq!(t.number.as_deref(), Some("INC0010001"));
        assert_eq!(
            t.url.as_deref(),
            Some("https://servicenow.invalid/nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371")
        );
        let f = servicenow::found(&r, fixture!("servicenow/find.json")).unwrap();
        assert_eq!(f, Some(t));
        assert_eq!(
            servicenow::found(&r, fixture!("servicenow/find-none.json")).unwrap(),
            None
        );
        let s = servicenow::record(fixture!("servicenow/read-state.json"), "x").unwrap();
        assert!(!r.is_done(&s));
        let s = servicenow::status(&r, fixture!("servicenow/read-back-resolved.json")).unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "6".into(),
                responded: true,
                first_response_at_ms: None,
                resolved_at_ms: Some(ms("2026-11-22 09:15:30")),
                closed: true,
            }
        );
        let e = servicenow::updated(br#"{"result":{"state":"2"}}"#, "ServiceNow x").unwrap_err();
        assert_eq!(e.to_string(), "ServiceNow x: the answer has no sys_id");
        assert!(!e.is_permanent());
    }

    #[test]
    fn jira_answers() {
        let r = jira::Reading::default();
        let t = jira::created(&r, fixture!("jira/create.json")).unwrap();
        assert_eq!(
            (t.id.as_str(), t.number.as_deref()),
            ("10042", Some("OPS-7"))
        );
        assert_eq!(t.url.as_deref(), Some("https://jira.invalid/browse/OPS-7"));
        jira::comment(fixture!("jira/comment.json"), "x").unwrap();
        assert!(jira::comment(b"{}", "x").is_err());
        let i = jira::issue(fixture!("jira/issue-status.json"), "x").unwrap();
        assert_eq!(i.category(), "indeterminate");
        let s = jira::status(fixture!("jira/issue-status.json")).unwrap();
        assert!(s.responded && !s.closed && s.state == "In Progress");
        let s = jira::status(fixture!("jira/read-back-done.json")).unwrap();
        assert!(s.closed && s.responded);
        assert_eq!(s.resolved_at_ms, Some(ms("2026-11-22T09:15:30Z")));
        assert_eq!(
            jira::transitions(fixture!("jira/transitions.json"))
                .unwrap()
                .len(),
            2
        );
        // The done OPS-6 is passed over.
        assert_eq!(
            jira::cloud_page(&r, fixture!("jira/search-cloud.json"), KEY).unwrap(),
            Page::Found(t.clone())
        );
        assert_eq!(
            jira::cloud_page(&r, fixture!("jira/search-cloud.json"), "tilsyn-other").unwrap(),
            Page::More("CAEaAggD".to_string())
        );
        assert_eq!(
            jira::dc_page(&r, fixture!("jira/search-dc.json"), KEY, 0).unwrap(),
            Page::Found(t)
        );
        assert_eq!(
            jira::dc_page(&r, fixture!("jira/search-dc.json"), "tilsyn-other", 0).unwrap(),
            Page::End
        );
    }

    #[test]
    fn rt5_recorded_answers() {
        let r = rt5::Reading::default();
        assert_eq!(
            rt5::created(rt(fixture!("rt5/01-create-ticket.txt")), None).unwrap(),
            "1"
        );
        assert_eq!(
            rt5::created(b"{}", Some("/REST/2.0/ticket/7")).unwrap(),
            "7"
        );
        assert!(rt5::created(b"{}", None).is_err());
        // The same read-backs as rt5.rs's recorded_tickets_read_back.
        let st = |f: &[u8]| rt5::status(&r, rt(f), "x").unwrap();
        assert_eq!(
            st(fixture!("rt5/08-read-ticket-new.txt")),
            TicketStatus {
                state: "new".into(),
                ..Default::default()
            }
        );
        let s = st(fixture!("rt5/12-read-ticket-after-take.txt"));
        assert!(s.responded && !s.closed && s.first_response_at_ms.is_none());
        let s = st(fixture!("rt5/14-read-ticket-open.txt"));
        assert_eq!(s.state, "open");
        assert_eq!(s.first_response_at_ms, Some(ms("2026-11-22T11:38:58Z")));
        let s = st(fixture!("rt5/18-read-ticket-resolved.txt"));
        assert!(s.closed && s.responded);
        assert_eq!(s.resolved_at_ms, Some(ms("2026-11-22T11:38:59Z")));
        // Searches (the recorded key is abc123; RT matched ABC123 too).
        let page = |f: &[u8], key: &str| rt5::search_page(&r, rt(f), key, 1).unwrap();
        let with_fields = fixture!("rt5/04-search-cf-with-fields.txt");
        assert_eq!(page(with_fields, "abc123"), Page::Found(r.tref("1")));
        assert_eq!(page(with_fields, "ABC123"), Page::End);
        assert_eq!(
            page(fixture!("rt5/05-search-cf-no-match.txt"), "abc123"),
            Page::End
        );
        assert_eq!(
            page(fixture!("rt5/02-search-cf-quoted-open.txt"), "abc123"),
            Page::Found(r.tref("1"))
        );
        assert_eq!(
            rt5::messages(rt(fixture!("rt5/17-resolve.txt"))),
            vec!["Ticket 1: Status changed from 'open' to 'resolved'".to_string()]
        );
        assert!(rt5::messages(rt(fixture!("rt5/20-resolve-again.txt"))).is_empty());
        let e = refused(401, "RT read", rt(fixture!("rt5/21-unauthenticated.txt"))).unwrap();
        assert!(e.is_permanent());
        assert!(
            e.to_string().contains("\"message\": \"Unauthorized\""),
            "{e}"
        );
    }

    #[test]
    fn rt5_search_pages_past_a_case_insensitive_match() {
        let r = rt5::Reading::default();
        // Page 1 of 2 with per_page 1: a lookalike, then more.
        let p = br#"{"count":1,"items":[{"id":"1","CustomFields":[{"name":"Tilsyn-Key","values":["ABC"]}]}],"page":1,"pages":2,"per_page":1,"total":2}"#;
        assert_eq!(rt5::search_page(&r, p, "abc", 1).unwrap(), Page::More(()));
        // An id that is not a ticket number is an error, not a ref no action can use.
        let p = br#"{"items":[{"id":1.5e300}],"page":1,"pages":1,"per_page":20}"#;
        let e = rt5::search_page(&r, p, "abc", 1).unwrap_err();
        assert!(e.to_string().contains("no ticket id"), "{e}");
    }

    #[test]
    fn glpi_answers() {
        let r = glpi::Reading::default();
        assert_eq!(
            glpi::session(fixture!("glpi/init-session.json")).unwrap(),
            "83af7e620c83a50a18d3eac2f6ed05a3ca0bea62"
        );
        let t = glpi::created(&r, fixture!("glpi/create.json")).unwrap();
        assert_eq!(t.id, "15");
        let range = glpi::Range {
            start: 0,
            page_size: 50,
            ..Default::default()
        };
        assert_eq!(
            glpi::search_page(&r, fixture!("glpi/search.json"), KEY, range).unwrap(),
            Page::Found(t)
        );
        assert_eq!(
            glpi::search_page(&r, fixture!("glpi/search.json"), "tilsyn-9", range).unwrap(),
            Page::End
        );
        let more = glpi::Range {
            start: 0,
            page_size: 1,
            content_range: Some("0-0/2"),
            ..Default::default()
        };
        assert_eq!(
            glpi::search_page(&r, br#"{"data":[{"1":"x","2":3}]}"#, KEY, more).unwrap(),
            Page::More(1)
        );
        let s = glpi::ticket(&r, fixture!("glpi/ticket.json"), "x").unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "solved".into(),
                responded: true,
                first_response_at_ms: Some(ms("2026-11-22 10:05:00")),
                resolved_at_ms: Some(ms("2026-11-22 10:15:30")),
                closed: true,
            }
        );
    }

    #[test]
    fn glpi_delay_too_large_for_a_date_is_no_date() {
        // Found by these tests: `date + delay * 1000` overflowed (a panic in debug builds,
        // a wrapped date in release) for a huge takeintoaccount_delay_stat.
        let r = glpi::Reading::default();
        for d in [i64::MAX, i64::MAX / 1000, 9_223_372_036_854_775] {
            let b = format!(
                r#"{{"status":2,"date":"2026-11-22 10:00:00","takeintoaccount_delay_stat":{d}}}"#
            );
            let s = glpi::ticket(&r, b.as_bytes(), "x").unwrap();
            assert_eq!(s.first_response_at_ms, None, "{d}");
        }
        let b = br#"{"status":2,"date":"2026-11-22 10:00:00","takeintoaccount_delay_stat":"300"}"#;
        assert_eq!(
            glpi::ticket(&r, b, "x").unwrap().first_response_at_ms,
            Some(ms("2026-11-22 10:05:00"))
        );
    }

    #[test]
    fn topdesk_answers() {
        let r = topdesk::Reading::default();
        let t = topdesk::created(&r, fixture!("topdesk/create.json")).unwrap();
        assert_eq!(t.id, "a1b2c3d4-1111-2222-3333-444455556666");
        assert_eq!(t.number.as_deref(), Some("I 2611 001"));
        // TOPdesk matched TILSYN-0123 case-insensitively: the exact one is taken.
        let p = topdesk::search_page(&r, fixture!("topdesk/search.json"), KEY, 206).unwrap();
        assert!(matches!(p, Page::Found(t) if t.id.starts_with("b2c3")));
        assert_eq!(
            topdesk::search_page(&r, fixture!("topdesk/search.json"), "x", 206).unwrap(),
            Page::More(())
        );
        assert_eq!(
            topdesk::search_page(&r, fixture!("topdesk/search.json"), "x", 200).unwrap(),
            Page::End
        );
        assert_eq!(topdesk::search_page(&r, b"", KEY, 204).unwrap(), Page::End);
        let s = topdesk::ticket(fixture!("topdesk/incident.json"), "x").unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "Completed".into(),
                responded: true,
                first_response_at_ms: Some(ms("2026-11-22T10:05:00Z")),
                resolved_at_ms: Some(ms("2026-11-22T10:15:30Z")),
                closed: true,
            }
        );
    }

    #[test]
    fn zammad_answers() {
        let r = zammad::Reading::default();
        let t = zammad::created(&r, fixture!("zammad/create.json")).unwrap();
        assert_eq!((t.id.as_str(), t.number.as_deref()), ("42", Some("31042")));
        assert_eq!(
            zammad::search_page(&r, fixture!("zammad/search.json"), 50).unwrap(),
            Page::Found(t)
        );
        assert_eq!(
            zammad::search_page(&r, br#"[{"id":41,"state":"closed"}]"#, 1).unwrap(),
            Page::More(())
        );
        let s = zammad::ticket(&r, fixture!("zammad/ticket.json"), "x").unwrap();
        assert_eq!(
            s,
            TicketStatus {
                state: "closed".into(),
                responded: true,
                first_response_at_ms: Some(ms("2026-11-22T10:05:00Z")),
                resolved_at_ms: Some(ms("2026-11-22T10:15:30Z")),
                closed: true,
            }
        );
    }

    #[test]
    fn webhook_and_file_answers() {
        let t = webhook::created(KEY, fixture!("webhook/create.json")).unwrap();
        assert_eq!(t.id, format!("{KEY} R-17"));
        assert_eq!(t.number.as_deref(), Some("17"));
        assert_eq!(webhook::created(KEY, b" ").unwrap(), TicketRef::new(KEY));
        assert_eq!(webhook::created(KEY, b"null").unwrap(), TicketRef::new(KEY));
        assert!(webhook::created(KEY, b"[]").is_err());
        let f = webhook::found(KEY, fixture!("webhook/search.json"))
            .unwrap()
            .unwrap();
        assert_eq!(f.id, format!("{KEY} 17"));
        assert_eq!(webhook::found(KEY, b"{}").unwrap(), None);
        // Created, resolved, reopened, then a torn line.
        assert_eq!(
            file::replay(fixture!("file/incidents.jsonl"), KEY).as_deref(),
            Some("F-1795338900000-tilsyn-0123")
        );
        // A line torn inside a multi-byte character is skipped like any torn line.
        let mut b = fixture!("file/incidents.jsonl").to_vec();
        b.extend_from_slice(b"\n{\"event\":\"resolve\",\"text\":\"\xc3");
        assert!(file::replay(&b, KEY).is_some());
    }

    /// Bodies no desk should send.
    fn hostile() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            "",
            " ",
            "null",
            "[]",
            "{}",
            "0",
            "-1",
            "\"\"",
            "true",
            "[null]",
            "[{}]",
            "[[]]",
            "1e999",
            "-1e999",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "{\"a\":",
            "{\"a\":1}{\"b\":2}",
            "\u{feff}{}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let deep = |open: &str, close: &str| {
            let mut s = open.repeat(10_000);
            s.push_str(&close.repeat(10_000));
            s.into_bytes()
        };
        v.push(deep("[", "]"));
        v.push(deep("{\"a\":", "}"));
        v.push(b"[".repeat(10_000));
        v.push(vec![0xff, 0xfe, b'{', 0x80]);
        v.push(b"{\"id\":\"\xff\xfe\"}".to_vec());
        v.push(b"<html><body>502 Bad Gateway</body></html>".to_vec());
        v.push(vec![b'x'; 1 << 20]);
        // Every field the readers look at, with each wrong type.
        let fields = [
            "result",
            "sys_id",
            "number",
            "state",
            "active",
            "assigned_to",
            "resolved_at",
            "closed_at",
            "id",
            "key",
            "fields",
            "status",
            "statusCategory",
            "issues",
            "nextPageToken",
            "isLast",
            "total",
            "transitions",
            "name",
            "to",
            "Status",
            "Owner",
            "Started",
            "Resolved",
            "LastUpdated",
            "CustomFields",
            "values",
            "items",
            "page",
            "pages",
            "per_page",
            "session_token",
            "totalcount",
            "data",
            "1",
            "2",
            "12",
            "date",
            "takeintoaccountdate",
            "takeintoaccount_delay_stat",
            "solvedate",
            "closedate",
            "externalNumber",
            "responded",
            "responseDate",
            "completed",
            "completedDate",
            "closed",
            "closedDate",
            "processingStatus",
            "state_id",
            "owner_id",
            "first_response_at",
            "close_at",
            "url",
            "event",
        ];
        let wrong = [
            "null",
            "true",
            "-1",
            "0",
            "1.5",
            "1e308",
            "18446744073709551615",
            "-9223372036854775808",
            "\"\"",
            "\"x\"",
            "\"9999-99-99 99:99:99\"",
            "\"0000-00-00 00:00:00\"",
            "\"-99999-01-01T00:00:00Z\"",
            "[]",
            "[1]",
            "{}",
            "{\"value\":1}",
            "{\"key\":[]}",
        ];
        for f in fields {
            for w in wrong {
                v.push(format!("{{\"{f}\":{w}}}").into_bytes());
                v.push(format!("{{\"result\":{{\"{f}\":{w}}}}}").into_bytes());
                v.push(format!("[{{\"{f}\":{w}}}]").into_bytes());
                v.push(format!("{{\"issues\":[{{\"fields\":{{\"{f}\":{w}}}}}]}}").into_bytes());
                v.push(format!("{{\"items\":[{{\"{f}\":{w}}}],\"pages\":{w}}}").into_bytes());
                v.push(format!("{{\"data\":[{{\"{f}\":{w}}}],\"totalcount\":{w}}}").into_bytes());
            }
        }
        v
    }

    #[test]
    fn hostile_bodies_are_errors_or_values_never_panics() {
        for b in hostile() {
            for n in 0..READERS {
                let r = std::panic::catch_unwind(|| read(n, &b));
                assert!(
                    r.is_ok(),
                    "reader {n} panicked on {:?}",
                    String::from_utf8_lossy(&b[..b.len().min(200)])
                );
            }
        }
        // Through the dispatch too, every selector.
        for s in 0..=u8::MAX {
            read_any(s, b"[[[[");
        }
    }

    #[test]
    fn unreadable_answers_say_what_was_wrong() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = jira::created(&jira::Reading::default(), deep.as_bytes()).unwrap_err();
        assert!(!e.is_permanent());
        assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
        let e = servicenow::record(b"\xff\xfe", "ServiceNow read").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ServiceNow read: unreadable answer"),
            "{e}"
        );
        let e = rt5::ticket(br#"{"Status": 5}"#, "RT read").unwrap_err();
        assert!(e.to_string().contains("invalid type: integer `5`"), "{e}");
        let e = topdesk::ticket(br#"{"completed": "yes"}"#, "TOPdesk read").unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        assert!(refused(0, "x", b"").is_err());
    }
}
