//! A worked SLA report for the renderers' tests (Markdown and CSV here, the HTML of the
//! collector's console): two departments, a missed service, a service without hosts, a
//! breach with a hostile hostname and a ticket link that is no URL, a period still running.

use jiff::tz::TimeZone;

use super::report::{
    Breach, ComplianceFigures, DepartmentCompliance, DepartmentReport, Outage, Period,
    PriorityAttainment, ServiceAvailability, ServiceState, SlaReport,
};
use crate::incidents::ticket::TicketRef;

pub const H: i64 = 3_600_000;
pub const T0: i64 = 1_793_487_600_000; // 2026-10-31T23:00Z: 1 Nov 2026 00:00 in Copenhagen

pub const ODD: &str = "Case management, \"core\"";
pub const EVIL_HOST: &str = "web<script>alert(1)</script>";

pub fn tz() -> TimeZone {
    TimeZone::get("Europe/Copenhagen").expect("the bundled time zone database")
}

fn prio(p: &str, target_ms: i64, met: u32, breached: u32, pending: u32) -> PriorityAttainment {
    let attainment = (met + breached > 0).then(|| met as f64 / (met + breached) as f64);
    PriorityAttainment {
        priority: p.into(),
        target_ms,
        met,
        breached,
        pending,
        attainment,
        achieved: attainment.map(|a| a >= 0.9),
    }
}

pub fn report() -> SlaReport {
    let social = DepartmentReport {
        id: "social".into(),
        name: "Social Services".into(),
        tier: "critical".into(),
        tier_name: "Critical".into(),
        services: vec![
            ServiceAvailability {
                service: "case".into(),
                name: ODD.into(),
                hosts: 2,
                target: 0.999,
                counted_ms: 216 * H,
                down_ms: 2 * H,
                planned_ms: H,
                unmonitored_ms: 0,
                availability: Some(1.0 - 2.0 / 216.0),
                met: Some(false),
                outages: vec![
                    Outage {
                        start_ms: T0 + 33 * H,
                        end_ms: T0 + 35 * H,
                        ongoing: false,
                        down_ms: 2 * H,
                        incidents: vec![1, 2],
                    },
                    Outage {
                        start_ms: T0 + 215 * H,
                        end_ms: T0 + 216 * H,
                        ongoing: true,
                        down_ms: 0,
                        incidents: vec![],
                    },
                ],
                state: ServiceState::Down,
                hosts_unhealthy: 2,
                hosts_in_maintenance: 0,
                hosts_unmonitored: 0,
            },
            ServiceAvailability {
                service: "archive".into(),
                name: "Archive".into(),
                hosts: 0,
                target: 0.995,
                counted_ms: 0,
                down_ms: 0,
                planned_ms: 0,
                unmonitored_ms: 0,
                availability: None,
                met: None,
                outages: vec![],
                state: ServiceState::NoHosts,
                hosts_unhealthy: 0,
                hosts_in_maintenance: 0,
                hosts_unmonitored: 0,
            },
        ],
        attainment_target: 0.9,
        response: vec![prio("P1", H / 2, 3, 1, 0), prio("P2", H, 0, 0, 2)],
        resolution: vec![prio("P1", 4 * H, 4, 0, 0), prio("P2", 8 * H, 0, 0, 0)],
        breaches: vec![Breach {
            incident_id: 1,
            hostname: EVIL_HOST.into(),
            check: "health/service:nginx".into(),
            priority: "P1".into(),
            target: "response",
            target_ms: H / 2,
            elapsed_ms: 90 * 60_000,
            opened_at_ms: T0 + 33 * H,
            breached_at_ms: T0 + 33 * H + H / 2,
            done: true,
            ticket: Some(TicketRef {
                id: "abc123".into(),
                number: Some("INC0010001".into()),
                url: Some("https://desk.example/ticket?id=1&view=2".into()),
            }),
        }],
        compliance: Some(ComplianceFigures {
            counts: DepartmentCompliance {
                as_of_ms: T0 + 200 * H,
                compliant: 12,
                noncompliant: 1,
                unknown: 3,
                patch_current: 0,
                patch_overdue: 0,
                patch_unknown: 4,
            },
            compliance_ratio: Some(12.0 / 13.0),
            patch_current_ratio: None,
        }),
    };
    let schools = DepartmentReport {
        id: "schools".into(),
        name: "Schools".into(),
        tier: "basic".into(),
        tier_name: "Basic".into(),
        services: vec![ServiceAvailability {
            service: "mail".into(),
            name: "Mail".into(),
            hosts: 1,
            target: 0.95,
            counted_ms: 48 * H,
            down_ms: 0,
            planned_ms: 0,
            unmonitored_ms: 0,
            availability: Some(0.9999),
            met: Some(true),
            outages: vec![],
            state: ServiceState::Up,
            hosts_unhealthy: 0,
            hosts_in_maintenance: 0,
            hosts_unmonitored: 0,
        }],
        attainment_target: 0.5,
        response: vec![prio("P2", H, 1, 0, 0)],
        resolution: vec![],
        breaches: vec![Breach {
            incident_id: 7,
            hostname: "pc-17".into(),
            check: "offline".into(),
            priority: "P2".into(),
            target: "resolution",
            target_ms: 8 * H,
            elapsed_ms: 9 * H,
            opened_at_ms: T0,
            breached_at_ms: T0 + 8 * H,
            done: false,
            ticket: Some(TicketRef {
                id: "77".into(),
                number: None,
                url: Some("javascript:alert(1)".into()),
            }),
        }],
        compliance: None,
    };
    SlaReport {
        period: Period {
            label: "2026-11".into(),
            from_ms: T0,
            to_ms: T0 + 720 * H,
        },
        measured_until_ms: T0 + 216 * H,
        complete: false,
        generated_at_ms: T0 + 216 * H,
        departments: vec![social, schools],
    }
}
