//! Forward auth through a real nginx: the README's recipe in front of a counting upstream,
//! asking a real `crumb serve` at `/v1/authz`. Skipped without nginx; CI requires it.

use crate::common;

crate::forward_auth_tests!(common::nginx::start);
