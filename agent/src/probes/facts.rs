//! Security and configuration facts for compliance: encryption, firewall, screen lock,
//! anti-malware, SSH, administrators, time, Secure Boot, running services. Each fact is read
//! on its own (see `platform::facts`); what cannot be read stays unset and is reported.

use tilsyn_proto::v1::report::Body;

use super::{err, Collected, ProbeKind};

const KIND: ProbeKind = ProbeKind::Facts;

pub async fn collect() -> Collected {
    let (mut facts, errors) = if cfg!(target_os = "windows") {
        crate::platform::winsource::read_facts().await
    } else {
        crate::platform::facts::collect().await
    };
    facts.content_hash = crate::report::facts_hash(&facts);
    Collected {
        body: Some(Body::Facts(facts)),
        errors: errors.into_iter().map(|e| err(KIND, e)).collect(),
    }
}
