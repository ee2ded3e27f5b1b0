//! What agents ask of the dialer (through the API): the next contact to
//! preview, accepting it (the agent's phone rings first, then the
//! customer's, the agent hearing it ring), skipping it, and manual dials
//! of a number the agent types. Every dial still passes the dial point
//! and is an attempt like any other.

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};
use waihu_store::{AttemptRecord, ContactRecord, NewContact};

use super::{Dialer, StatusFeed};
use crate::campaigns::now_ms;
use crate::config::{Campaign, CampaignEntry};
use crate::dialpoint::{DialPath, Refused};

/// How long an agent may look at a preview before it goes back.
const PREVIEW_MS: i64 = 60_000;
/// A skipped contact is not offered again before this.
const SKIP_MS: i64 = 10 * 60_000;

/// The dialer as the rest of the switch sees it.
#[derive(Clone, Debug)]
pub struct DialerHandle {
    pub status: StatusFeed,
    pub requests: mpsc::Sender<DialerRequest>,
}

/// A contact offered to an agent to preview.
#[derive(Clone, Debug, Serialize)]
pub struct Preview {
    pub campaign: String,
    pub contact: ContactRecord,
    /// Earlier attempts, oldest first.
    pub history: Vec<AttemptRecord>,
    /// Accept or skip before this (unix ms), or the contact goes back.
    pub expires_ms: i64,
}

/// Why a request failed: an HTTP-like status and a message, or the dial
/// point's refusal.
#[derive(Clone, Debug)]
pub enum RequestError {
    BadRequest(String),
    NotFound(String),
    Conflict(String),
    Refused(Refused),
}

pub type Reply<T> = oneshot::Sender<Result<T, RequestError>>;

#[derive(Debug)]
pub enum DialerRequest {
    Preview {
        agent: String,
        campaign: Option<String>,
        reply: Reply<Preview>,
    },
    Accept {
        agent: String,
        contact: i64,
        reply: Reply<(i64, String)>,
    },
    Skip {
        agent: String,
        contact: i64,
        reply: Reply<()>,
    },
    Manual {
        agent: String,
        campaign: String,
        number: String,
        reply: Reply<(i64, String)>,
    },
    /// A campaign made (`create`) or changed through the API.
    Configure {
        body: serde_json::Value,
        create: bool,
        reply: Reply<String>,
    },
}

impl DialerHandle {
    pub async fn ask<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> DialerRequest,
    ) -> Result<T, RequestError> {
        let (reply, rx) = oneshot::channel();
        if self.requests.send(make(reply)).await.is_err() {
            return Err(RequestError::Conflict(
                "the dialer is not running (no campaigns configured)".into(),
            ));
        }
        rx.await.unwrap_or_else(|_| {
            Err(RequestError::Conflict(
                "the dialer is not running (no campaigns configured)".into(),
            ))
        })
    }
}

impl Dialer {
    pub(super) async fn on_request(&mut self, request: DialerRequest) {
        match request {
            DialerRequest::Preview {
                agent,
                campaign,
                reply,
            } => {
                let _ = reply.send(self.preview(&agent, campaign.as_deref()).await);
            }
            DialerRequest::Accept {
                agent,
                contact,
                reply,
            } => {
                let _ = reply.send(self.accept(&agent, contact).await);
            }
            DialerRequest::Skip {
                agent,
                contact,
                reply,
            } => {
                let _ = reply.send(self.skip(&agent, contact).await);
            }
            DialerRequest::Manual {
                agent,
                campaign,
                number,
                reply,
            } => {
                let _ = reply.send(self.manual(&agent, &campaign, &number).await);
            }
            DialerRequest::Configure {
                body,
                create,
                reply,
            } => {
                let _ = reply.send(self.configure(body, create).await);
            }
        }
    }

    /// Campaigns this agent works: the members of their queues.
    fn campaigns_of(&self, agent: &str) -> Vec<usize> {
        self.runs
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.config
                    .queue
                    .as_deref()
                    .and_then(|q| self.ctx.acd.queue(q))
                    .is_some_and(|q| q.acd.members.iter().any(|m| m == agent))
            })
            .map(|(i, _)| i)
            .collect()
    }

    pub(super) fn index_of(&self, campaign: &str) -> Option<usize> {
        self.runs.iter().position(|r| r.config.name == campaign)
    }

    async fn preview(
        &mut self,
        agent: &str,
        campaign: Option<&str>,
    ) -> Result<Preview, RequestError> {
        if let Some((_, _, until)) = self.previews.get(agent) {
            if *until >= now_ms() {
                return Err(RequestError::Conflict(format!(
                    "agent {agent} is previewing a contact already: accept or skip it"
                )));
            }
            // Timed out: its lease has run out in the store too.
            self.previews.remove(agent);
        }
        let candidates = match campaign {
            Some(name) => match self.index_of(name) {
                Some(i) => vec![i],
                None => return Err(RequestError::NotFound(format!("no campaign {name}"))),
            },
            None => self.campaigns_of(agent),
        };
        let now = now_ms();
        for i in candidates {
            if self.runs[i].state != "running" {
                continue;
            }
            let name = self.runs[i].config.name.clone();
            let who = agent.to_owned();
            let leased = self
                .ctx
                .store
                .run(move |s| {
                    let Some(c) = s.lease_preview(&name, &who, now, now + PREVIEW_MS)? else {
                        return Ok(None);
                    };
                    let history = s.attempts_of_contact(c.id)?;
                    Ok(Some((c, history)))
                })
                .await
                .map_err(RequestError::Conflict)?;
            if let Some((contact, history)) = leased {
                let expires_ms = now + PREVIEW_MS;
                self.previews
                    .insert(agent.to_owned(), (i, contact.clone(), expires_ms));
                info!(%agent, contact = contact.id, "preview offered");
                return Ok(Preview {
                    campaign: self.runs[i].config.name.clone(),
                    contact,
                    history,
                    expires_ms,
                });
            }
        }
        Err(RequestError::NotFound(format!(
            "no contact to preview for agent {agent}"
        )))
    }

    /// The agent's preview, if it is this contact and still theirs.
    fn take_preview(
        &mut self,
        agent: &str,
        contact: i64,
    ) -> Result<(usize, ContactRecord), RequestError> {
        match self.previews.get(agent) {
            Some((_, c, _)) if c.id != contact => Err(RequestError::Conflict(format!(
                "agent {agent} is previewing contact {}, not {contact}",
                c.id
            ))),
            Some((_, _, until)) if *until < now_ms() => {
                self.previews.remove(agent);
                Err(RequestError::Conflict(
                    "the preview timed out; the contact went back to the list".into(),
                ))
            }
            Some(_) => {
                let (i, c, _) = self.previews.remove(agent).expect("checked above");
                Ok((i, c))
            }
            None => Err(RequestError::NotFound(format!(
                "agent {agent} is previewing nothing"
            ))),
        }
    }

    async fn accept(&mut self, agent: &str, contact: i64) -> Result<(i64, String), RequestError> {
        let (i, c) = self.take_preview(agent, contact)?;
        let now = now_ms();
        self.attempt(i, c, now, DialPath::Preview, Some(agent.to_owned()))
            .await
            .map_err(RequestError::Refused)
    }

    async fn skip(&mut self, agent: &str, contact: i64) -> Result<(), RequestError> {
        let (_, c) = self.take_preview(agent, contact)?;
        let id = c.id;
        let next = now_ms() + SKIP_MS;
        info!(%agent, contact = id, "preview skipped");
        self.ctx
            .store
            .run(move |s| s.release_contact(id, Some(next)))
            .await
            .map_err(RequestError::Conflict)
    }

    /// A number the agent typed: made a contact of the campaign if it is
    /// not one, then dialled agent first, through the dial point.
    async fn manual(
        &mut self,
        agent: &str,
        campaign: &str,
        number: &str,
    ) -> Result<(i64, String), RequestError> {
        let Some(i) = self.index_of(campaign) else {
            return Err(RequestError::NotFound(format!("no campaign {campaign}")));
        };
        let config = self.runs[i].config.clone();
        let phone = match crate::campaigns::normalise(number, &config.import.default_country) {
            Ok(p) => p,
            Err(e) => {
                return Err(RequestError::Refused(Refused {
                    reason: "invalid_number".into(),
                    detail: e,
                    retry_at: None,
                }));
            }
        };
        let timezone = config
            .import
            .default_timezone
            .clone()
            .or_else(|| {
                waihu_campaign::contact::PhoneNormalizer::new(&config.import.default_country)
                    .ok()
                    .and_then(|n| n.normalize(&phone).ok())
                    .and_then(|p| p.country)
                    .and_then(|c| waihu_campaign::zone::single_zone_of_country(&c))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "Asia/Shanghai".into());
        let (name, p) = (config.name.clone(), phone.clone());
        let contact = self
            .ctx
            .store
            .run(move |s| {
                if s.contact_by_phone(&name, &p)?.is_none() {
                    let row = NewContact {
                        phone: p.clone(),
                        timezone,
                        fields: Default::default(),
                    };
                    s.import_contacts(&name, [row], now_ms(), |_| {})?;
                    let _ = s
                        .contact_by_phone(&name, &p)?
                        .map(|c| s.classify_contacts(&[(c.id, "manual".into(), 0, None)]));
                }
                s.contact_by_phone(&name, &p)
            })
            .await
            .map_err(RequestError::Conflict)?;
        let Some(contact) = contact else {
            warn!(%phone, "manual dial: the contact could not be made");
            return Err(RequestError::Conflict(
                "the contact could not be stored".into(),
            ));
        };
        if matches!(contact.status.as_str(), "leased" | "calling") {
            return Err(RequestError::Conflict(format!(
                "{phone} is being called already"
            )));
        }
        self.attempt(
            i,
            contact,
            now_ms(),
            DialPath::Manual,
            Some(agent.to_owned()),
        )
        .await
        .map_err(RequestError::Refused)
    }
}

impl Dialer {
    /// Whether a queue and a trunk group exist, for checking a campaign
    /// made through the API.
    fn check(&self, entry: &CampaignEntry) -> Result<Campaign, Vec<String>> {
        let acd = self.ctx.acd.clone();
        let trunks = self.ctx.trunks.clone();
        crate::config::check_campaign(entry, &|q| acd.queue(q).is_some(), &|g| {
            !trunks.candidates(g).is_empty()
        })
    }

    /// Campaigns made or changed through the API, from the store (they
    /// override the configuration file's of the same name).
    pub(super) async fn load_api_campaigns(&mut self) {
        let rows = match self.ctx.store.run(|s| s.campaigns()).await {
            Ok(rows) => rows,
            Err(e) => {
                warn!(error = %e, "cannot read the campaigns made through the API");
                return;
            }
        };
        for row in rows.into_iter().filter(|r| r.config != "{}") {
            let entry: CampaignEntry = match serde_json::from_str(&row.config) {
                Ok(e) => e,
                Err(e) => {
                    warn!(campaign = %row.name, error = %e, "stored campaign configuration unreadable: not run");
                    continue;
                }
            };
            match self.check(&entry) {
                Ok(config) => self.install(config),
                Err(problems) => warn!(
                    campaign = %row.name, problems = %problems.join("; "),
                    "stored campaign configuration no longer valid: not run"
                ),
            }
        }
    }

    fn install(&mut self, config: Campaign) {
        match self.index_of(&config.name) {
            Some(i) => self.runs[i].reconfigure(config),
            None => self.runs.push(super::Run::new(config)),
        }
    }

    /// `POST /api/v1/campaigns` (create) and `PUT /api/v1/campaigns/NAME`
    /// (change): checked like the file's, stored, run at once.
    pub(super) async fn configure(
        &mut self,
        body: serde_json::Value,
        create: bool,
    ) -> Result<String, RequestError> {
        let entry: CampaignEntry = serde_json::from_value(body.clone())
            .map_err(|e| RequestError::BadRequest(format!("not a campaign: {e}")))?;
        let exists = self.index_of(&entry.name).is_some();
        if create && exists {
            return Err(RequestError::Conflict(format!(
                "campaign {} exists already: PUT /api/v1/campaigns/{} changes it",
                entry.name, entry.name
            )));
        }
        if !create && !exists {
            return Err(RequestError::NotFound(format!(
                "no campaign {}",
                entry.name
            )));
        }
        let config = self
            .check(&entry)
            .map_err(|p| RequestError::BadRequest(p.join("; ")))?;
        let (name, json) = (entry.name.clone(), body.to_string());
        let n = name.clone();
        self.ctx
            .store
            .run(move |s| s.set_campaign_config(&n, &json, now_ms()))
            .await
            .map_err(RequestError::Conflict)?;
        info!(campaign = %name, create, "campaign configured through the API");
        self.install(config);
        Ok(name)
    }
}
