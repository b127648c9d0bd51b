//! The desk registry: the `desks:` entries of the `incidents:` section, one optional field
//! per adapter, and [`build`], which turns them into running adapters and the routing of
//! departments to them. A new adapter is one file in this crate and one line in
//! `adapters!` below.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use tilsyn_collector_core::incidents::config::{DeskEntry, IncidentsConfig};
use tilsyn_collector_core::incidents::core::Routing;

use crate::Desk;

/// Declares the desk entry with one optional field per adapter, and what follows from
/// the list: which adapter an entry chose, path resolution, and building it. A new
/// adapter is one line here.
macro_rules! adapters {
    ($($(#[$doc:meta])* $field:ident: $cfg:ty => $desk:ty,)*) => {
        /// One service desk: a name, the departments routed to it, and exactly one adapter.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct DeskConfig {
            /// Used in metrics, logs and the API (`[a-z0-9_-]`).
            pub name: String,
            /// Departments whose incidents go here (globs). Empty: every department not
            /// routed to another desk (the default desk; at most one).
            #[serde(default)]
            pub departments: Vec<String>,
            /// Fleet-wide problems (storms) go to the default desk unless one desk says
            /// `problems: true`.
            #[serde(default)]
            pub problems: bool,
            $($(#[$doc])* #[serde(default)] pub $field: Option<$cfg>,)*
        }

        impl DeskEntry for DeskConfig {
            const ADAPTERS: &'static str = concat!($(stringify!($field), " "),*);

            fn name(&self) -> &str {
                &self.name
            }

            fn departments(&self) -> &[String] {
                &self.departments
            }

            fn problems(&self) -> bool {
                self.problems
            }

            fn adapters(&self) -> Vec<&'static str> {
                let mut v = Vec::new();
                $(if self.$field.is_some() { v.push(stringify!($field)); })*
                v
            }

            fn resolve_paths(&mut self, base: &Path) {
                $(if let Some(c) = &mut self.$field { c.resolve_paths(base); })*
            }
        }

        impl DeskConfig {
            /// The adapter, checked (credentials read, URLs parsed); every problem listed.
            pub fn build(&self, timeout: std::time::Duration) -> Result<std::sync::Arc<dyn crate::Desk>, Vec<String>> {
                $(if let Some(c) = &self.$field {
                    return Ok(std::sync::Arc::new(<$desk>::new(c, timeout)?));
                })*
                Err(vec![format!("choose the desk's adapter: one of {}", Self::ADAPTERS)])
            }
        }
    };
}

adapters! {
    /// JSON lines appended to a local file.
    file: crate::file::FileConfig => crate::file::FileDesk,
    /// ServiceNow Table API (incident table).
    servicenow: crate::servicenow::ServiceNowConfig => crate::servicenow::ServiceNow,
    /// Jira Service Management / Jira Software (Cloud or Data Center), REST API v2.
    jira: crate::jira::JiraConfig => crate::jira::Jira,
    /// TOPdesk incident API (`/tas/api/incidents`).
    topdesk: crate::topdesk::TopdeskConfig => crate::topdesk::Topdesk,
    /// GLPI 10 REST API (`apirest.php`).
    glpi: crate::glpi::GlpiConfig => crate::glpi::Glpi,
    /// Zammad REST API v1.
    zammad: crate::zammad::ZammadConfig => crate::zammad::Zammad,
    /// Request Tracker 5 REST2.
    rt5: crate::rt5::Rt5Config => crate::rt5::Rt5,
    /// A generic JSON webhook signed with HMAC-SHA256.
    webhook: crate::webhook::WebhookConfig => crate::webhook::Webhook,
}

/// The desks by name, and how departments are routed to them.
pub struct DeskSet {
    pub desks: HashMap<String, Arc<dyn Desk>>,
    pub routing: Routing,
}

/// Builds every configured desk (all errors at once); none configured: the file desk.
pub fn build(
    cfg: &IncidentsConfig<DeskConfig>,
    data_dir: &std::path::Path,
) -> Result<DeskSet, Vec<String>> {
    let timeout = cfg.delivery.timeout.0;
    let mut errors = Vec::new();
    let mut desks: HashMap<String, Arc<dyn Desk>> = HashMap::new();
    if cfg.desks.is_empty() {
        let f = crate::file::FileConfig {
            path: data_dir.join("incidents.jsonl"),
        };
        let d = crate::file::FileDesk::new(&f, timeout)
            .map_err(|e| e.join("; "))
            .map_err(|e| vec![e])?;
        desks.insert("file".into(), Arc::new(d));
        return Ok(DeskSet {
            desks,
            routing: Routing::single("file"),
        });
    }
    for (i, d) in cfg.desks.iter().enumerate() {
        let built: Result<Arc<dyn Desk>, Vec<String>> = d.build(timeout);
        match built {
            Ok(x) => {
                desks.insert(d.name.clone(), x);
            }
            Err(es) => errors.extend(
                es.into_iter()
                    .map(|e| format!("incidents.desks[{i}] ({}): {e}", d.name)),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let default = cfg
        .desks
        .iter()
        .find(|d| d.departments.is_empty())
        .unwrap_or(&cfg.desks[0])
        .name
        .clone();
    let problems = cfg
        .desks
        .iter()
        .find(|d| d.problems)
        .map_or(default.clone(), |d| d.name.clone());
    Ok(DeskSet {
        desks,
        routing: Routing {
            routes: cfg
                .desks
                .iter()
                .filter(|d| !d.departments.is_empty())
                .map(|d| (d.name.clone(), d.departments.clone()))
                .collect(),
            default,
            problems,
        },
    })
}
