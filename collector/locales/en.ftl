## Tilsyn console and SLA report: English (the fallback for every other language).
## A translator copies this file to <code>.ftl (e.g. sv.ftl) and translates the values;
## the ids stay. Variables are in { $braces }; counts choose their plural form with
## { $n -> [one] … *[other] … }. Every message here must exist in every language file
## (the collector's tests check it).

## The language itself and its formats.
language-name = English
number-decimal = .
number-group = ,
percent = { $value } %
# A table's date and time: $dd $mm $year $time (HH:MM), $day (no padding), $month (name).
date-time-short = { $year }-{ $mm }-{ $dd } { $time }
date-long = { $day } { $month } { $year }
month-year = { $month } { $year }
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
span-seconds = { $n } s
span-minutes = { $n } min
span-hours = { $n } h
span-days = { $n } d
ago = { $span } ago
no-data = no data
yes = yes
no = no

## Frame of every page.
skip-to-content = Skip to content
nav-label = Main
nav-fleet = Fleet
nav-compliance = Compliance
nav-incidents = Incidents
nav-sla = SLA
signed-in-as = Signed in as
sign-out = Sign out
footer = Tilsyn — inventory, compliance, incidents and SLA for the operations centre.
back-to-fleet = Back to the fleet
pager-label = Pages
pager-shown = { $first }–{ $last } of { $total }
pager-prev = ← Previous
pager-next = Next →
filter-any = (any)
filter-all-departments = All departments
filter-show = Show

## Sign-in.
login-title = Sign in
login-intro = Paste your API token. An administrator makes one with "tilsyn-collector token create".
login-token = API token
login-submit = Sign in
login-hint = The token is kept in a cookie of this browser only, until you sign out or close the browser.
login-not-required = This collector needs no token on loopback: you are the local administrator.
login-expired = Your session ended (the token expired or was revoked). Sign in again.
login-refused = That token was not accepted.

## Errors.
error-not-found = Not found
    .detail = There is nothing here for "{ $what }", or you may not see it.
error-forbidden = Not allowed
    .detail = Your role may not see this page.
error-unauthorized = Sign-in needed
    .detail = The token sent was not accepted.
error-cross-site = Refused
    .detail = The form was sent from another site.
error-bad-request = Bad request
    .detail = The address has a parameter the page does not know.
error-unavailable = The store is unavailable
    .detail = The collector could not read its database
error-no-sla = No SLA configured
    .detail = Set sla.file in the collector's configuration (see configs/sla.md).

## Host states, compliance words.
state-new = new
state-online = online
state-offline = offline
state-retired = retired
status-compliant = compliant
status-noncompliant = noncompliant
status-unknown = unknown
result-pass = pass
result-fail = fail
result-unknown = unknown
result-waived = waived
result-not_applicable = not applicable
severity-low = low
severity-medium = medium
severity-high = high
severity-critical = critical
waiver-active = active
waiver-expiring = expiring
waiver-expired = expired

## Fleet.
fleet-title = Fleet
fleet-all = All
fleet-groups = Hosts by group
hosts-count = { $n ->
    [one] { $n } host
   *[other] { $n } hosts
}
hosts-online = { $n } online
hosts-offline = { $n } offline
hosts-compliant = { $n } compliant
hosts-noncompliant = { $n } noncompliant
hosts-unknown = { $n } unknown
hosts-all = All hosts
hosts-found = Hosts found
hosts-none = No hosts.
by-department = By department
by-class = By class
by-os = By operating system
search-label = Search hosts
search-text = Hostname, serial or IP
    .placeholder = e.g. pc-0042 or 10.1.2.3
search-software = Installed software
    .placeholder = e.g. firefox
search-version = Version starts with
search-update = Pending update
search-security = Only hosts with pending security updates
search-submit = Search
search-clear = Clear
versions-title = Versions of "{ $name }"
col-hostname = Hostname
col-host = Host
col-department = Department
col-class = Class
col-os = Operating system
col-state = State
col-last-seen = Last seen
col-updates = Updates
col-security-updates = Security updates
col-software-count = Software
col-software = Software
col-version = Version
col-hosts = Hosts
col-reboot = Reboot needed

## A host.
host-sections = Sections of this page
host-inventory = Inventory
host-compliance = Compliance
host-incidents = Incidents
host-updates = Pending updates
host-health = Health
host-software = Software
host-facts = Facts
host-probe-errors = Probe errors
host-agent-id = Agent id
host-agent-version = Agent version
host-enrolled = Enrolled
host-hardware = Hardware
host-serial = Serial number
host-cpu = Processor
host-memory = Memory
host-kernel = Kernel
host-machine-id = Machine id
host-network = Network interfaces
host-disks = Disks
cpu-cores = { $n ->
    [one] { $n } core
   *[other] { $n } cores
}
cpu-threads = { $n ->
    [one] { $n } thread
   *[other] { $n } threads
}
col-interface = Interface
col-addresses = Addresses
col-device = Device
col-mount = Mount point
col-filesystem = File system
col-size = Size
compliance-none = Not evaluated against any standard yet.
evaluated-at = evaluated { $when }
col-result = Result
col-severity = Severity
col-rule = Rule
col-observed = Observed
col-since = Since
waived-by = waived: { $waiver }
rule-why-and-remedy = Why, and how to fix it
rule-rationale = Why
rule-remediation = Remedy
rule-references = References
updates-pending = { $n ->
    [one] { $n } pending update
   *[other] { $n } pending updates
}
updates-security = { $n ->
    [one] { $n } security update
   *[other] { $n } security updates
}
updates-refreshed = package lists refreshed { $when }
reboot-required = reboot required
col-package = Package
col-installed = Installed
col-available = Available
col-security = Security
col-pending-since = Pending since
health-cpu = CPU
health-memory = Memory
health-disk = Fullest disk
health-load = load
health-uptime = up
health-failed-services = Failed services
health-chart-label = CPU, memory and the fullest disk over the last 24 hours
health-chart-caption = The last 24 hours: CPU and memory as 5-minute means, the fullest file system as its maximum. A gap is a time the host was silent.
health-hourly = Hourly rollups (minimum / mean / maximum)
health-hourly-hint = Rollups are kept for months: the API serves them at /api/v1/hosts/…/health/rollups.
col-hour = Hour
col-samples = Samples
software-show = Show every package
col-arch = Architecture
col-source = Source
col-fact = Fact
col-value = Value
col-probe = Probe
col-error = Error
col-when = When

## Compliance.
compliance-title = Compliance
compliance-standards = Standards
compliance-no-standards = No standards are loaded.
compliance-departments = Departments
compliance-waivers = Waivers
waivers-none = No waivers.
col-standard = Standard
col-compliant-share = Compliant
compliant-of = { $ok } of { $all } compliant
col-waiver = Waiver
col-scope = Scope
col-reason = Reason
col-approved-by = Approved by
col-expires = Expires
days-left = { $n ->
    [one] { $n } day left
   *[other] { $n } days left
}
rules-by-failing = Rules, those most hosts fail first
col-pass-rate = Pass rate
rule-results = Hosts by result
hosts-with-fail = Hosts that fail
hosts-with-unknown = Hosts not evaluated
hosts-with-waived = Hosts waived

## Incidents and problems.
incidents-title = Incidents and problems
incidents-filter = Incidents by state
incidents-tab-open = Open
incidents-tab-resolved = Resolved
incidents-tab-suppressed = Suppressed
incidents-tab-all = All
incidents-none = No incidents.
incident-open = open
incident-resolved = resolved
incident-suppressed = suppressed
col-priority = Priority
col-title = Title
col-opened = Opened
col-resolved = Resolved
col-ticket = Ticket
ticket-none = (no ticket yet)
problems-title = Problems
problem-ref = Problem { $id }
problem-hosts = { $n ->
    [one] { $n } host behind this problem
   *[other] { $n } hosts behind this problem
}
windows-title = Maintenance windows, now and in the next 7 days
windows-none = No maintenance windows now or in the next 7 days.
col-window = Window
col-from = From
col-until = Until
window-now = now
window-next = coming

## The SLA (console page and report).
sla-report-title = SLA report { $month }
sla-months = Months
sla-download = Download the report
sla-period = Period
sla-measured = Measured
sla-measured-whole = the whole period (until { $until })
sla-measured-so-far = so far, until { $until } (the period is not complete)
sla-generated = Generated
sla-not-complete = Not complete:
sla-incomplete = the period ends { $end }; these figures are so far, until { $until }, and will change.
sla-contents = Contents
sla-no-departments = No departments in this report.
sla-tier = Tier
sla-tier-named = tier { $tier }
sla-services-met-col = Services met
sla-of = { $met } of { $n }
sla-breaches = Breaches
sla-availability = Availability
sla-service = Service
sla-target = Target
sla-downtime = Downtime (service hours)
sla-planned = Planned maintenance
sla-unmonitored = Unmonitored
sla-status = Status
sla-unmonitored-note = Unmonitored: time in which the monitoring itself was away (the collector could not hear the hosts) and the service's state depended on hosts nobody watched. It is the operations centre's outage, not the service's: it counts neither as up nor as down and is left out of the availability, like planned maintenance.
sla-availability-caption = Availability per service in service hours, planned maintenance left out. Axis from { $lo } to 100 %; the black mark is the service's target.
sla-availability-caption-unmonitored = Availability per service in service hours, planned maintenance and unmonitored time left out. Axis from { $lo } to 100 %; the black mark is the service's target.
sla-availability-chart = Availability per service of { $department }
sla-bar-title = { $name }: { $value }, target { $target }
sla-response-resolution = Response and resolution
sla-no-attainment-targets = No response or resolution targets in this tier.
sla-attainment-caption = Attainment per priority: met ÷ (met + breached), targets in service hours. The dashed line is the required { $target }.
sla-attainment-chart = Attainment per priority of { $department }
sla-attainment-bar = { $value } ({ $met } of { $judged })
sla-attainment-title = { $met } met, { $breached } breached, { $pending } pending
sla-target-line = target { $target }
sla-target-kind = Target kind
sla-kind-response = Response
sla-kind-resolution = Resolution
sla-breached = Breached
sla-attainment = Attainment
sla-no-breaches = No breaches.
sla-incident = Incident
sla-check = Check
sla-elapsed = Elapsed
sla-breached-at = Breached at
sla-still-open = { $span } (still open)
sla-outages = Outages
sla-no-outages = No outages in service hours.
sla-start = Start
sla-end = End
sla-ongoing = ongoing
sla-incidents = Incidents
sla-compliance = Compliance
sla-compliance-no-data = Compliance and patch currency: no data.
sla-measure = Measure
sla-share = Share
sla-as-of = As of
sla-patch-currency = Patch currency
sla-compliance-hosts = { $ok } compliant, { $bad } noncompliant, { $unknown } unknown
sla-patch-hosts = { $ok } current, { $bad } overdue, { $unknown } unknown
sla-no-services = No services in the catalogue for this department.
sla-no-services-phrase = no services in the catalogue for this department
sla-no-targets = no targets in this tier
verdict-met = met
verdict-missed = missed
verdict-pending = pending
sla-pending-note = , { $n } pending
sla-attainment-none = no data (no outcome yet{ $pending })
sla-attainment-met = met (target { $target }{ $pending })
sla-attainment-missed = missed (target { $target }) for { $priorities }{ $pending }
sla-services-met = { $n ->
    [one] { $met } of { $n } service met its availability target
   *[other] { $met } of { $n } services met their availability target
}
sla-services-missed = , { $n } missed
sla-services-no-data = , { $n } with no data
sla-summary = { $services }. Response: { $response }. Resolution: { $resolution }. { $breaches ->
    [0] No breaches.
    [one] 1 breach.
   *[other] { $breaches } breaches.
}
sla-summary-so-far = So far: { $services }. Response: { $response }. Resolution: { $resolution }. { $breaches ->
    [0] No breaches.
    [one] 1 breach.
   *[other] { $breaches } breaches.
}
