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
    spent: Mutex<u64>,
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

impl Gate {
    pub fn new(limits: Limits) -> Self {
        Gate { limits, spent: Mutex::new(0), questions: Mutex::new(HashMap::new()) }
    }

    /// What this process has paid or handed away so far.
    pub fn spent(&self) -> u64 {
        *self.spent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the budget still allows (`None`: no budget).
    pub fn remaining(&self) -> Option<u64> {
        self.limits.budget.map(|b| b.saturating_sub(self.spent()))
    }

    /// Refuses `amount` above the per-call maximum or the budget left.
    pub fn check(&self, amount: u64) -> anyhow::Result<()> {
        if let Some(cap) = self.limits.max_cost.filter(|&cap| amount > cap) {
            return Err(refused(
                "over-max-cost",
                DENIED,
                format!("{amount} is more than the {cap} the host allows per call"),
            ));
        }
        if let Some(left) = self.remaining().filter(|&left| amount > left) {
            return Err(refused(
                "over-budget",
                DENIED,
                format!("{amount} is more than the {left} left of this session's budget"),
            ));
        }
        Ok(())
    }

    /// Counts a payment that happened.
    pub fn record(&self, amount: u64) {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        *spent = spent.saturating_add(amount);
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
        gate.check(10).unwrap();
        assert!(gate.check(11).is_err());
        gate.record(10);
        gate.record(10);
        gate.check(5).unwrap();
        let e = gate.check(6).unwrap_err();
        assert_eq!(crate::cli::exit::error_code(&e), "over-budget");
        assert!(gate.needs_approval(6) && !gate.needs_approval(5));
    }
}
