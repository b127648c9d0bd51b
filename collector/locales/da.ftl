## Tilsyn-konsollen og SLA-rapporten: dansk.
## Samme id'er som en.ftl; kun værdierne er oversat. Variabler står i { $klammer }.

## Sproget selv og dets formater.
language-name = Dansk
number-decimal = ,
number-group = .
percent = { $value } %
date-time-short = { $dd }.{ $mm }.{ $year } { $time }
date-long = { $day }. { $month } { $year }
month-year = { $month } { $year }
month-1 = januar
month-2 = februar
month-3 = marts
month-4 = april
month-5 = maj
month-6 = juni
month-7 = juli
month-8 = august
month-9 = september
month-10 = oktober
month-11 = november
month-12 = december
span-seconds = { $n } s
span-minutes = { $n } min
span-hours = { $n } t
span-days = { $n } d
ago = for { $span } siden
no-data = ingen data
yes = ja
no = nej

## Rammen om hver side.
skip-to-content = Gå til indholdet
nav-label = Hovedmenu
nav-fleet = Maskinpark
nav-compliance = Overholdelse
nav-incidents = Hændelser
nav-sla = SLA
signed-in-as = Logget ind som
sign-out = Log ud
footer = Tilsyn — inventar, overholdelse, hændelser og SLA for driftscentret.
back-to-fleet = Tilbage til maskinparken
pager-label = Sider
pager-shown = { $first }–{ $last } af { $total }
pager-prev = ← Forrige
pager-next = Næste →
filter-any = (alle)
filter-all-departments = Alle forvaltninger
filter-show = Vis

## Log ind.
login-title = Log ind
login-intro = Indsæt dit API-token. En administrator laver et med "tilsyn-collector token create".
login-token = API-token
login-submit = Log ind
login-hint = Tokenet gemmes kun i en cookie i denne browser, indtil du logger ud eller lukker browseren.
login-not-required = Denne collector kræver intet token på loopback: du er den lokale administrator.
login-expired = Din session er slut (tokenet er udløbet eller tilbagekaldt). Log ind igen.
login-refused = Tokenet blev ikke godkendt.

## Fejl.
error-not-found = Ikke fundet
    .detail = Der er intet her for "{ $what }", eller du må ikke se det.
error-forbidden = Ikke tilladt
    .detail = Din rolle må ikke se denne side.
error-unauthorized = Log ind først
    .detail = Det sendte token blev ikke godkendt.
error-cross-site = Afvist
    .detail = Formularen blev sendt fra et andet websted.
error-bad-request = Ugyldig forespørgsel
    .detail = Adressen har en parameter, siden ikke kender.
error-unavailable = Databasen svarer ikke
    .detail = Collectoren kunne ikke læse sin database
error-no-sla = Ingen SLA sat op
    .detail = Angiv sla.file i collectorens konfiguration (se configs/sla.md).

## Maskiners tilstand, ord om overholdelse.
state-new = ny
state-online = online
state-offline = offline
state-retired = udfaset
status-compliant = overholder
status-noncompliant = overholder ikke
status-unknown = ukendt
result-pass = bestået
result-fail = fejlet
result-unknown = ukendt
result-waived = dispenseret
result-not_applicable = ikke relevant
severity-low = lav
severity-medium = middel
severity-high = høj
severity-critical = kritisk
waiver-active = gældende
waiver-expiring = udløber snart
waiver-expired = udløbet

## Maskinparken.
fleet-title = Maskinpark
fleet-all = Alle
fleet-groups = Maskiner efter gruppe
hosts-count = { $n ->
    [one] { $n } maskine
   *[other] { $n } maskiner
}
hosts-online = { $n } online
hosts-offline = { $n } offline
hosts-compliant = { $n } overholder
hosts-noncompliant = { $n } overholder ikke
hosts-unknown = { $n } ukendte
hosts-all = Alle maskiner
hosts-found = Fundne maskiner
hosts-none = Ingen maskiner.
by-department = Efter forvaltning
by-class = Efter klasse
by-os = Efter styresystem
search-label = Søg efter maskiner
search-text = Værtsnavn, serienummer eller IP
    .placeholder = f.eks. pc-0042 eller 10.1.2.3
search-software = Installeret software
    .placeholder = f.eks. firefox
search-version = Version begynder med
search-update = Ventende opdatering
search-security = Kun maskiner med ventende sikkerhedsopdateringer
search-submit = Søg
search-clear = Nulstil
versions-title = Versioner af "{ $name }"
col-hostname = Værtsnavn
col-host = Maskine
col-department = Forvaltning
col-class = Klasse
col-os = Styresystem
col-state = Tilstand
col-last-seen = Sidst set
col-updates = Opdateringer
col-security-updates = Sikkerhedsopdateringer
col-software-count = Software
col-software = Software
col-version = Version
col-hosts = Maskiner
col-reboot = Genstart påkrævet

## En maskine.
host-sections = Afsnit på denne side
host-inventory = Inventar
host-compliance = Overholdelse
host-incidents = Hændelser
host-updates = Ventende opdateringer
host-health = Tilstand og belastning
host-software = Software
host-facts = Fakta
host-probe-errors = Fejl i målingerne
host-agent-id = Agent-id
host-agent-version = Agentversion
host-enrolled = Tilmeldt
host-hardware = Hardware
host-serial = Serienummer
host-cpu = Processor
host-memory = Hukommelse
host-kernel = Kerne
host-machine-id = Maskin-id
host-network = Netværkskort
host-disks = Diske
cpu-cores = { $n ->
    [one] { $n } kerne
   *[other] { $n } kerner
}
cpu-threads = { $n ->
    [one] { $n } tråd
   *[other] { $n } tråde
}
col-interface = Netværkskort
col-addresses = Adresser
col-device = Enhed
col-mount = Monteringspunkt
col-filesystem = Filsystem
col-size = Størrelse
compliance-none = Endnu ikke vurderet mod nogen standard.
evaluated-at = vurderet { $when }
col-result = Resultat
col-severity = Alvor
col-rule = Regel
col-observed = Observeret
col-since = Siden
waived-by = dispenseret: { $waiver }
rule-why-and-remedy = Hvorfor, og hvordan det rettes
rule-rationale = Hvorfor
rule-remediation = Afhjælpning
rule-references = Referencer
updates-pending = { $n ->
    [one] { $n } ventende opdatering
   *[other] { $n } ventende opdateringer
}
updates-security = { $n ->
    [one] { $n } sikkerhedsopdatering
   *[other] { $n } sikkerhedsopdateringer
}
updates-refreshed = pakkelister opdateret { $when }
reboot-required = genstart påkrævet
col-package = Pakke
col-installed = Installeret
col-available = Tilgængelig
col-security = Sikkerhed
col-pending-since = Ventet siden
health-cpu = CPU
health-memory = Hukommelse
health-disk = Fyldigste disk
health-load = belastning
health-uptime = oppe
health-failed-services = Fejlede tjenester
health-chart-label = CPU, hukommelse og den fyldigste disk det seneste døgn
health-chart-caption = Det seneste døgn: CPU og hukommelse som gennemsnit pr. 5 minutter, det fyldigste filsystem som maksimum. Et hul er en periode, hvor maskinen var tavs.
health-hourly = Timeopsamlinger (minimum / gennemsnit / maksimum)
health-hourly-hint = Opsamlingerne gemmes i måneder: API'et viser dem på /api/v1/hosts/…/health/rollups.
col-hour = Time
col-samples = Målinger
software-show = Vis alle pakker
col-arch = Arkitektur
col-source = Kilde
col-fact = Fakta
col-value = Værdi
col-probe = Måling
col-error = Fejl
col-when = Hvornår

## Overholdelse.
compliance-title = Overholdelse af standarder
compliance-standards = Standarder
compliance-no-standards = Der er ingen standarder indlæst.
compliance-departments = Forvaltninger
compliance-waivers = Dispensationer
waivers-none = Ingen dispensationer.
col-standard = Standard
col-compliant-share = Overholder
compliant-of = { $ok } af { $all } overholder
col-waiver = Dispensation
col-scope = Omfang
col-reason = Begrundelse
col-approved-by = Godkendt af
col-expires = Udløber
days-left = { $n ->
    [one] { $n } dag tilbage
   *[other] { $n } dage tilbage
}
rules-by-failing = Regler, dem flest maskiner fejler først
col-pass-rate = Andel bestået
rule-results = Maskiner efter resultat
hosts-with-fail = Maskiner der fejler
hosts-with-unknown = Maskiner der ikke kunne vurderes
hosts-with-waived = Maskiner med dispensation

## Hændelser og problemer.
incidents-title = Hændelser og problemer
incidents-filter = Hændelser efter tilstand
incidents-tab-open = Åbne
incidents-tab-resolved = Løste
incidents-tab-suppressed = Undertrykte
incidents-tab-all = Alle
incidents-none = Ingen hændelser.
incident-open = åben
incident-resolved = løst
incident-suppressed = undertrykt
col-priority = Prioritet
col-title = Titel
col-opened = Åbnet
col-resolved = Løst
col-ticket = Sag
ticket-none = (ingen sag endnu)
problems-title = Problemer
problem-ref = Problem { $id }
problem-hosts = { $n ->
    [one] { $n } maskine bag dette problem
   *[other] { $n } maskiner bag dette problem
}
windows-title = Servicevinduer, nu og de næste 7 dage
windows-none = Ingen servicevinduer nu eller de næste 7 dage.
col-window = Servicevindue
col-from = Fra
col-until = Til
window-now = nu
window-next = kommende

## SLA (konsolsiden og rapporten).
sla-report-title = SLA-rapport { $month }
sla-months = Måneder
sla-download = Hent rapporten
sla-period = Periode
sla-measured = Målt
sla-measured-whole = hele perioden (til { $until })
sla-measured-so-far = indtil videre, til { $until } (perioden er ikke slut)
sla-generated = Dannet
sla-not-complete = Ikke afsluttet:
sla-incomplete = perioden slutter { $end }; tallene gælder indtil videre, til { $until }, og vil ændre sig.
sla-contents = Indhold
sla-no-departments = Ingen forvaltninger i denne rapport.
sla-tier = Serviceniveau
sla-tier-named = serviceniveau { $tier }
sla-services-met-col = Ydelser opfyldt
sla-of = { $met } af { $n }
sla-breaches = Brud
sla-availability = Tilgængelighed
sla-service = Ydelse
sla-target = Mål
sla-downtime = Nedetid (i servicetiden)
sla-planned = Planlagt vedligehold
sla-unmonitored = Uovervåget
sla-status = Status
sla-unmonitored-note = Uovervåget: tid, hvor overvågningen selv var væk (collectoren kunne ikke høre maskinerne), og ydelsens tilstand afhang af maskiner, ingen holdt øje med. Det er driftscentrets nedbrud, ikke ydelsens: tiden tæller hverken som oppe eller nede og holdes uden for tilgængeligheden, ligesom planlagt vedligehold.
sla-availability-caption = Tilgængelighed pr. ydelse i servicetiden, planlagt vedligehold fraregnet. Aksen går fra { $lo } til 100 %; det sorte mærke er ydelsens mål.
sla-availability-caption-unmonitored = Tilgængelighed pr. ydelse i servicetiden, planlagt vedligehold og uovervåget tid fraregnet. Aksen går fra { $lo } til 100 %; det sorte mærke er ydelsens mål.
sla-availability-chart = Tilgængelighed pr. ydelse for { $department }
sla-bar-title = { $name }: { $value }, mål { $target }
sla-response-resolution = Reaktion og løsning
sla-no-attainment-targets = Ingen mål for reaktion eller løsning på dette serviceniveau.
sla-attainment-caption = Målopfyldelse pr. prioritet: opfyldt ÷ (opfyldt + brudt), mål i servicetid. Den stiplede linje er de krævede { $target }.
sla-attainment-chart = Målopfyldelse pr. prioritet for { $department }
sla-attainment-bar = { $value } ({ $met } af { $judged })
sla-attainment-title = { $met } opfyldt, { $breached } brudt, { $pending } afventer
sla-target-line = mål { $target }
sla-target-kind = Måltype
sla-kind-response = Reaktion
sla-kind-resolution = Løsning
sla-breached = Brudt
sla-attainment = Målopfyldelse
sla-no-breaches = Ingen brud.
sla-incident = Hændelse
sla-check = Kontrol
sla-elapsed = Forløbet
sla-breached-at = Brudt kl.
sla-still-open = { $span } (stadig åben)
sla-outages = Nedbrud
sla-no-outages = Ingen nedbrud i servicetiden.
sla-start = Start
sla-end = Slut
sla-ongoing = igangværende
sla-incidents = Hændelser
sla-compliance = Overholdelse
sla-compliance-no-data = Overholdelse og opdateringsstatus: ingen data.
sla-measure = Mål
sla-share = Andel
sla-as-of = Opgjort
sla-patch-currency = Opdateringsstatus
sla-compliance-hosts = { $ok } overholder, { $bad } overholder ikke, { $unknown } ukendte
sla-patch-hosts = { $ok } opdaterede, { $bad } forsinkede, { $unknown } ukendte
sla-no-services = Ingen ydelser i kataloget for denne forvaltning.
sla-no-services-phrase = ingen ydelser i kataloget for denne forvaltning
sla-no-targets = ingen mål på dette serviceniveau
verdict-met = opfyldt
verdict-missed = ikke opfyldt
verdict-pending = afventer
sla-pending-note = , { $n } afventer
sla-attainment-none = ingen data (intet udfald endnu{ $pending })
sla-attainment-met = opfyldt (mål { $target }{ $pending })
sla-attainment-missed = ikke opfyldt (mål { $target }) for { $priorities }{ $pending }
sla-services-met = { $n ->
    [one] { $met } af { $n } ydelse opfyldte sit mål for tilgængelighed
   *[other] { $met } af { $n } ydelser opfyldte deres mål for tilgængelighed
}
sla-services-missed = , { $n } ikke opfyldt
sla-services-no-data = , { $n } uden data
sla-summary = { $services }. Reaktion: { $response }. Løsning: { $resolution }. { $breaches ->
    [0] Ingen brud.
    [one] 1 brud.
   *[other] { $breaches } brud.
}
sla-summary-so-far = Indtil videre: { $services }. Reaktion: { $response }. Løsning: { $resolution }. { $breaches ->
    [0] Ingen brud.
    [one] 1 brud.
   *[other] { $breaches } brud.
}
