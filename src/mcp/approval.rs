//! The limits the host sets on the wallet, enforced here whatever the model asks: a maximum
//! cost per call, a budget for the process's lifetime, and a threshold above which a person
//! must say yes (MCP elicitation) before credit moves.
//!
//! A person is asked through the host: on protocol 2026-07-28 and later by answering the
//! tool call with an `InputRequiredResult` (the client asks, then calls again with the
//! answer and the echoed `requestState`); on older protocols by an `elicitation/create`
//! request. The `requestState` is only a handle to a question this process asked, used once,
//! bound to the exact tool call (its name and arguments), and forgotten after
//! [`QUESTION_TTL`]: a forged or replayed state approves nothing. The question shows the
//! amount, the entry and where the credit goes; never a token.

use crate::cli::exit::{refused, DENIED};
use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitationAction, InputRequest, InputRequests, InputRequiredResult,
    InputResponses, ProtocolVersion,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::RoleServer;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a question waits for its answer.
pub const QUESTION_TTL: Duration = Duration::from_secs(600);

/// How many questions may wait at once (a model cannot fill memory with them).
const MAX_QUESTIONS: usize = 64;

/// The input request's key in an `InputRequiredResult`.
const KEY: &str = "crumb-approval";

/// The host's limits (`crumb mcp --max-cost --budget --approve-above`).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub max_cost: Option<u64>,
    pub budget: Option<u64>,
    pub approve_above: Option<u64>,
}

/// The limits and what this process has paid so far.
pub struct Gate {
    pub limits: Limits,
    /// (paid, reserved): what calls paid, and what calls in progress may still pay.
    budget: Mutex<(u64, u64)>,
    /// Questions asked and not yet answered: handle → (call digest, amount, when).
    questions: Mutex<HashMap<String, (String, u64, Instant)>>,
}

/// What the gate decided about a call.
pub enum Decision {
    /// Go ahead, for this amount (the one the person was asked about).
    Go(u64),
    /// Ask the person first: return this to the client.
    Ask(InputRequiredResult),
}

/// A person's answer, as the elicitation form asks it.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct Approval {
    /// Whether to let this payment go ahead.
    pub approve: bool,
}
rmcp::elicit_safe!(Approval);

/// An amount set aside from the budget for a call in progress: calls running at once can
/// never together pay more than the budget. End it with [`Gate::paid`], [`Gate::release`]
/// (nothing was paid) or [`Gate::keep`] (the outcome is not known: it counts as paid).
#[must_use]
#[derive(Debug)]
pub struct Reserved(u64);

impl Reserved {
    pub fn amount(&self) -> u64 {
        self.0
    }
}

impl Gate {
    pub fn new(limits: Limits) -> Self {
        Gate { limits, budget: Mutex::new((0, 0)), questions: Mutex::new(HashMap::new()) }
    }

    fn budget(&self) -> std::sync::MutexGuard<'_, (u64, u64)> {
        self.budget.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What this process has paid or handed away so far.
    pub fn spent(&self) -> u64 {
        self.budget().0
    }

    /// What the budget still allows, less what calls in progress have set aside (`None`: no
    /// budget).
    pub fn remaining(&self) -> Option<u64> {
        let (paid, reserved) = *self.budget();
        self.limits.budget.map(|b| b.saturating_sub(paid).saturating_sub(reserved))
    }

    /// Sets `amount` aside, or refuses it: above the per-call maximum, or above what the
    /// budget has left.
    pub fn reserve(&self, amount: u64) -> anyhow::Result<Reserved> {
        if let Some(cap) = self.limits.max_cost.filter(|&cap| amount > cap) {
            return Err(refused(
                "over-max-cost",
                DENIED,
                format!("{amount} is more than the {cap} the host allows per call"),
            ));
        }
        let mut budget = self.budget();
        if let Some(total) = self.limits.budget {
            let left = total.saturating_sub(budget.0).saturating_sub(budget.1);
            if amount > left {
                return Err(refused(
                    "over-budget",
                    DENIED,
                    format!("{amount} is more than the {left} left of this session's budget"),
                ));
            }
        }
        budget.1 = budget.1.saturating_add(amount);
        Ok(Reserved(amount))
    }

    /// Sets aside the most one call of unknown price may cost: the per-call maximum, or what
    /// the budget has left, whichever is less (`None`: no limit applies).
    pub fn reserve_most(&self) -> Option<Reserved> {
        let mut budget = self.budget();
        let left = self.limits.budget.map(|b| b.saturating_sub(budget.0).saturating_sub(budget.1));
        let most = [self.limits.max_cost, left].into_iter().flatten().min()?;
        budget.1 = budget.1.saturating_add(most);
        Some(Reserved(most))
    }

    /// Nothing set aside (no limit applied to the call); [`Gate::paid`] still counts it.
    pub fn reserve_nothing(&self) -> Reserved {
        Reserved(0)
    }

    /// The call paid `amount` (at most what it set aside).
    pub fn paid(&self, reserved: Reserved, amount: u64) {
        let mut budget = self.budget();
        budget.1 = budget.1.saturating_sub(reserved.0);
        budget.0 = budget.0.saturating_add(amount);
    }

    /// The call paid nothing.
    pub fn release(&self, reserved: Reserved) {
        self.paid(reserved, 0);
    }

    /// The call's outcome is not known: what it set aside counts as paid.
    pub fn keep(&self, reserved: Reserved) {
        let amount = reserved.0;
        self.paid(reserved, amount);
    }

    /// Whether `amount` needs a person's yes.
    pub fn needs_approval(&self, amount: u64) -> bool {
        self.limits.approve_above.is_some_and(|t| amount > t)
    }

    /// Asks the person about `call` (a digest of the tool call: its name and arguments) for
    /// `amount`, described by `question`; or, with `state`, reads the answer to a question
    /// asked before (then `amount` and `question` are those of that question).
    pub async fn approve(
        &self,
        ctx: &RequestContext<RoleServer>,
        call: &str,
        amount: u64,
        question: String,
        state: Option<String>,
        responses: Option<InputResponses>,
    ) -> anyhow::Result<Decision> {
        let modern = ctx.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let can_ask = ctx.client_capabilities().is_some_and(|c| c.elicitation.is_some());
        if !modern {
            if !can_ask {
                return Err(unavailable_approval());
            }
            return match ctx.peer.elicit_with_timeout::<Approval>(question, Some(QUESTION_TTL)).await {
                Ok(Some(Approval { approve: true })) => Ok(Decision::Go(amount)),
                Err(ElicitationError::CapabilityNotSupported) => Err(unavailable_approval()),
                _ => Err(declined()),
            };
        }
        let Some(handle) = state else {
            if !can_ask {
                return Err(unavailable_approval());
            }
            return Ok(Decision::Ask(self.ask(call, amount, question)?));
        };
        let asked = {
            let mut questions = self.questions.lock().unwrap_or_else(|p| p.into_inner());
            questions.remove(&handle)
        };
        let amount = match asked {
            Some((asked_call, amount, at)) if asked_call == call && at.elapsed() < QUESTION_TTL => amount,
            _ => {
                return Err(refused(
                    "approval-unknown",
                    DENIED,
                    "this approval was not asked for this call, was answered already, or has expired: call again",
                ))
            }
        };
        let answer = responses.as_ref().and_then(|r| r.get(KEY)).cloned().unwrap_or_default();
        let accepted =
            answer["action"] == json!(ElicitationAction::Accept) && answer["content"]["approve"] == json!(true);
        if accepted {
            Ok(Decision::Go(amount))
        } else {
            Err(declined())
        }
    }

    fn ask(&self, call: &str, amount: u64, question: String) -> anyhow::Result<InputRequiredResult> {
        let mut questions = self.questions.lock().unwrap_or_else(|p| p.into_inner());
        questions.retain(|_, (_, _, at)| at.elapsed() < QUESTION_TTL);
        if questions.len() >= MAX_QUESTIONS {
            return Err(refused("too-many-questions", DENIED, "too many approvals are waiting for an answer"));
        }
        let handle = crumb::spend::fresh_request_id().map_err(anyhow::Error::from)?;
        questions.insert(handle.clone(), (call.to_owned(), amount, Instant::now()));
        let schema = rmcp::model::ElicitationSchema::from_type::<Approval>()
            .map_err(|e| anyhow::anyhow!("the approval form: {e}"))?;
        let mut requests = InputRequests::new();
        requests.insert(
            KEY.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: question,
                requested_schema: schema,
            })),
        );
        Ok(InputRequiredResult::new(Some(requests), Some(handle)))
    }
}

fn unavailable_approval() -> anyhow::Error {
    refused(
        "approval-unavailable",
        DENIED,
        "this needs a person's approval, and the MCP host cannot ask for it (no elicitation); nothing was paid",
    )
}

fn declined() -> anyhow::Error {
    refused("approval-declined", DENIED, "the person did not approve this; nothing was paid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_and_the_cap_bound_every_call() {
        let gate = Gate::new(Limits { max_cost: Some(10), budget: Some(25), approve_above: Some(5) });
        assert!(gate.reserve(11).is_err());
        let a = gate.reserve(10).unwrap();
        let b = gate.reserve(10).unwrap();
        // Two calls in progress have set 20 aside: a third cannot take 10 more.
        let e = gate.reserve(6).unwrap_err();
        assert_eq!(crate::cli::exit::error_code(&e), "over-budget");
        gate.paid(a, 4);
        gate.release(b);
        assert_eq!((gate.spent(), gate.remaining()), (4, Some(21)));
        let unknown = gate.reserve_most().unwrap();
        assert_eq!(unknown.amount(), 10);
        gate.keep(unknown);
        assert_eq!((gate.spent(), gate.remaining()), (14, Some(11)));
        assert!(gate.needs_approval(6) && !gate.needs_approval(5));
        let free = Gate::new(Limits::default());
        assert!(free.reserve_most().is_none());
    }
}
