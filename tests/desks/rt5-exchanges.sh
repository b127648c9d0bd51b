#!/usr/bin/env bash
# Drive REST2 of an RT instance started by `rt5.sh start DIR PORT` through the incident
# lifecycle Tilsyn needs and record every exchange as a text fixture.
#
#   rt5-exchanges.sh DIR [OUTDIR]     OUTDIR defaults to tests/fixtures/desks/rt5
#
# Each fixture file holds: the request line, the request headers that matter (the token
# is replaced by <RT5_TOKEN>), the request JSON, the status line, the response headers
# that matter, and the response body (pretty-printed when JSON).  The script also
# asserts the facts the adapter relies on and exits non-zero if RT behaves differently.
# Needs curl and jq.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 DIR [OUTDIR]" >&2; exit 2; }
dir=$1
out=${2:-$here/../fixtures/desks/rt5}
mkdir -p "$out"
# shellcheck disable=SC1091
. "$dir/env"
base=/REST/2.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "rt5-exchanges: FAIL: $*" >&2; exit 1; }

# ex FILE AUTH METHOD PATH [JSON] -- AUTH: token | none | badtoken | basic
# Leaves the status in $status and the body in $tmp/body.
ex() {
    local file=$1 auth=$2 method=$3 path=$4 json=${5:-}
    local -a args=(-g -s -S -X "$method" -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}')
    local shown_auth=""
    case $auth in
        token)    args+=(-H "Authorization: token $RT5_TOKEN"); shown_auth="Authorization: token <RT5_TOKEN>" ;;
        badtoken) args+=(-H "Authorization: token 1-99-0123456789abcdef0123456789abcdef"); shown_auth="Authorization: token 1-99-0123456789abcdef0123456789abcdef" ;;
        basic)    args+=(-u "$RT5_USER:$RT5_PASSWORD"); shown_auth="Authorization: Basic <base64 $RT5_USER:$RT5_PASSWORD>" ;;
        none)     ;;
    esac
    if [ -n "$json" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$json")
    fi
    status=$(curl "${args[@]}" "$RT5_URL$path")
    {
        echo "# recorded $(date -u +%FT%TZ) from Debian request-tracker5 $(dpkg-query -W -f='${Version}' request-tracker5 2>/dev/null || echo '?')"
        echo "> $method $path"
        [ -z "$shown_auth" ] || echo "> $shown_auth"
        if [ -n "$json" ]; then
            echo "> Content-Type: application/json"
            echo ">"
            { echo "$json" | jq . 2>/dev/null || echo "$json"; } | sed 's/^/> /'
        fi
        echo
        head -n1 "$tmp/headers" | tr -d '\r' | sed 's/^/< /'
        grep -iE '^(location|content-type|www-authenticate|etag|last-modified|allow):' "$tmp/headers" \
            | tr -d '\r' | sed 's/^/< /' || true
        echo "<"
        if jq -S . "$tmp/body" > "$tmp/pretty" 2>/dev/null && [ -s "$tmp/body" ]; then
            cat "$tmp/pretty"
        else
            cat "$tmp/body"; echo
        fi
    } > "$out/$file"
    printf '%-40s %s %s -> %s\n' "$file" "$method" "$path" "$status"
}

q() { jq -rn --arg v "$1" '$v|@uri'; }   # URL-encode a query string value
body() { jq -r "$1" "$tmp/body"; }
want() { [ "$status" = "$1" ] || fail "$2: expected HTTP $1, got $status: $(head -c 400 "$tmp/body")"; }

key=abc123
open_q="'CF.{$RT5_CF}' = '$key' AND Status != 'resolved'"

ex 01-create-ticket.txt token POST "$base/ticket" \
  "{\"Queue\":\"$RT5_QUEUE\",\"Subject\":\"[tilsyn] disk / above 95% on web01\",\"Content\":\"Tilsyn incident $key\\nCheck: disk.used_pct / >= 95 (value 97.2)\\nHost: web01\",\"ContentType\":\"text/plain\",\"Priority\":50,\"CustomFields\":{\"$RT5_CF\":\"$key\"}}"
want 201 create
id=$(body .id)
grep -qi "^Location: $base/ticket/$id" "$tmp/headers" || fail "create: Location header"

ex 02-search-cf-quoted-open.txt token GET "$base/tickets?query=$(q "$open_q")"
want 200 search; [ "$(body .count)" = 1 ] && [ "$(body '.items[0].id')" = "$id" ] || fail "search by quoted CF"

ex 03-search-cf-unquoted.txt token GET "$base/tickets?query=$(q "CF.{$RT5_CF} = '$key'")"
want 200 search; [ "$(body .count)" = 1 ] || fail "search by unquoted CF.{}"

ex 04-search-cf-with-fields.txt token GET \
  "$base/tickets?query=$(q "CF.{$RT5_CF} = '$key' AND Queue = '$RT5_QUEUE'")&fields=Subject,Status,Owner,Created,Started,Resolved,LastUpdated,CustomFields&fields[Owner]=Name"
want 200 search; [ "$(body .count)" = 1 ] || fail "search with fields="

# The long form CustomField.{...} is documented TicketSQL but chokes on the '-' in the name unquoted.
ex 04a-search-customfield-long-form-unquoted.txt token GET "$base/tickets?query=$(q "CustomField.{$RT5_CF} = '$key'")"
ex 04b-search-customfield-long-form-quoted.txt token GET "$base/tickets?query=$(q "'CustomField.{$RT5_CF}' = '$key'")"

# __Active__ = every "active" status of the queue's lifecycle (new, open, stalled): safer than
# Status != 'resolved', which would also match rejected and deleted tickets.
ex 04c-search-cf-active.txt token GET "$base/tickets?query=$(q "'CF.{$RT5_CF}' = '$key' AND Status = '__Active__'")"
want 200 search; [ "$(body .count)" = 1 ] || fail "search with __Active__"

ex 05-search-cf-no-match.txt token GET "$base/tickets?query=$(q "'CF.{$RT5_CF}' = 'does-not-exist' AND Status != 'resolved'")"
want 200 "empty search"; [ "$(body .count)" = 0 ] || fail "empty search count"

ex 06-search-cf-without-braces.txt token GET "$base/tickets?query=$(q "CF.$RT5_CF = '$key'")"

ex 07-search-invalid-query.txt token GET "$base/tickets?query=$(q "Status = ")"

ex 08-read-ticket-new.txt token GET "$base/ticket/$id"
want 200 read; [ "$(body .Status)" = new ] || fail "initial status"

ex 09-comment.txt token POST "$base/ticket/$id/comment" \
  '{"Content":"Tilsyn: still failing at 2026-01-01T00:05:00Z (value 97.9). Internal note, not mailed to requestors.","ContentType":"text/plain"}'
want 201 comment

ex 10-read-ticket-after-comment.txt token GET "$base/ticket/$id"
want 200 read; [ "$(body .Status)" = new ] || fail "comment must not change status"

ex 11-take.txt token PUT "$base/ticket/$id/take" '{}'
want 200 take

ex 12-read-ticket-after-take.txt token GET "$base/ticket/$id"
want 200 read; [ "$(body .Owner.id)" = "$RT5_USER" ] || fail "owner after take"

ex 13-set-status-open.txt token PUT "$base/ticket/$id" '{"Status":"open"}'
want 200 open

ex 14-read-ticket-open.txt token GET "$base/ticket/$id"
want 200 read; [ "$(body .Status)" = open ] || fail "status open"
[ "$(body .Started)" != "1970-01-01T00:00:00Z" ] || fail "Started set on open"

ex 15-history.txt token GET "$base/ticket/$id/history?per_page=50&fields=Type,Field,OldValue,NewValue,Created,Creator&fields[Creator]=Name"
want 200 history

ex 16-update-cf-and-priority.txt token PUT "$base/ticket/$id" "{\"Priority\":80,\"CustomFields\":{\"$RT5_CF\":\"$key\"}}"
want 200 update

ex 17-resolve.txt token PUT "$base/ticket/$id" '{"Status":"resolved"}'
want 200 resolve

ex 18-read-ticket-resolved.txt token GET "$base/ticket/$id"
want 200 read; [ "$(body .Status)" = resolved ] || fail "resolved"

ex 19-search-cf-open-after-resolve.txt token GET "$base/tickets?query=$(q "$open_q")"
want 200 search; [ "$(body .count)" = 0 ] || fail "resolved ticket must drop out of the open search"

ex 19a-search-cf-active-after-resolve.txt token GET "$base/tickets?query=$(q "'CF.{$RT5_CF}' = '$key' AND Status = '__Active__'")"
want 200 search; [ "$(body .count)" = 0 ] || fail "__Active__ after resolve"

ex 20-resolve-again.txt token PUT "$base/ticket/$id" '{"Status":"resolved"}'

ex 21-unauthenticated.txt none GET "$base/ticket/$id"
want 401 unauthenticated

ex 22-bad-token.txt badtoken GET "$base/ticket/$id"
want 401 "bad token"

ex 23-basic-auth.txt basic GET "$base/ticket/$id"

ex 24-create-invalid-queue.txt token POST "$base/ticket" \
  "{\"Queue\":\"NoSuchQueue\",\"Subject\":\"x\",\"Content\":\"x\",\"CustomFields\":{\"$RT5_CF\":\"x\"}}"

ex 25-create-queue-without-rights.txt token POST "$base/ticket" '{"Queue":"General","Subject":"x","Content":"x"}'

ex 26-read-missing-ticket.txt token GET "$base/ticket/99999"

ex 27-create-second-ticket.txt token POST "$base/ticket" \
  "{\"Queue\":\"$RT5_QUEUE\",\"Subject\":\"[tilsyn] second\",\"Content\":\"second\",\"CustomFields\":{\"$RT5_CF\":\"def456\"}}"
want 201 "second create"

ex 28-search-pagination-page1.txt token GET "$base/tickets?query=$(q "Queue = '$RT5_QUEUE'")&per_page=1&page=1&orderby=id&order=ASC"
want 200 pagination; [ "$(body .total)" = 2 ] && [ "$(body .pages)" = 2 ] || fail "pagination totals"
ex 28a-search-pagination-page2.txt token GET "$base/tickets?query=$(q "Queue = '$RT5_QUEUE'")&per_page=1&page=2&orderby=id&order=ASC"
want 200 pagination

ex 29-create-non-json.txt token POST "$base/ticket" 'not json' || true

ex 30-history-default.txt token GET "$base/ticket/$id/history"
want 200 history
txn=$(jq -r '[.items[] | select(.id)] | .[1].id' "$tmp/body")
ex 31-comment-transaction.txt token GET "$base/transaction/$txn"
want 200 transaction; [ "$(body .Type)" = Comment ] || fail "second transaction is the comment"
ex 32-comment-attachments.txt token GET "$base/transaction/$txn/attachments?fields=ContentType,Content,Headers"
want 200 attachments

echo "rt5-exchanges: all assertions passed; fixtures in $out"
if [ -s "$dir/mail.out" ]; then
    echo "rt5-exchanges: RT tried to send mail (see $dir/mail.out):"
    grep -E '^(---- |To:|Subject:)' "$dir/mail.out" || true
fi
