//! Errors as RFC 9457 problem details (`application/problem+json`), carrying the CLI's kind,
//! exit code and reason, so a program reads the same answer from the agent as from `keyorch`.

use axum::{
	http::{header, StatusCode},
	response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::failure::{Failure, Kind, Reason};

/// The media type of a problem answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What the agent itself refuses, besides the failures the CLI knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentRefusal {
	/// No bearer token, or a wrong one.
	Unauthorized,
	/// Key export asked for, but the agent was not started with `--allow-key-export`.
	KeyExportDisabled,
	/// No such path.
	NoRoute,
	/// The path exists, not with this method.
	MethodNotAllowed,
	/// The body is larger than the agent takes.
	TooLarge,
	/// The body is not `application/json`.
	NotJson,
}

impl AgentRefusal {
	fn status_and_name(self) -> (StatusCode, &'static str) {
		match self {
			Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
			Self::KeyExportDisabled => (StatusCode::FORBIDDEN, "key-export-disabled"),
			Self::NoRoute => (StatusCode::NOT_FOUND, "no-route"),
			Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
			Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
			Self::NotJson => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-json"),
		}
	}
}

/// An error answer.
#[derive(Debug)]
pub struct Problem {
	status: StatusCode,
	reason: &'static str,
	/// The CLI's kind, for failures the CLI also has.
	kind: Option<Kind>,
	detail: String,
	hint: Option<String>,
}

impl Problem {
	/// The agent's own refusal of a request, saying `detail`.
	pub fn refused(refusal: AgentRefusal, detail: impl Into<String>) -> Self {
		let (status, reason) = refusal.status_and_name();
		Self { status, reason, kind: None, detail: detail.into(), hint: None }
	}
}

/// The HTTP status of a failure: by its reason where it has one, else by its kind.
fn status_of(failure: &Failure) -> StatusCode {
	match (failure.reason, failure.kind) {
		(Reason::UnknownStream, _) => StatusCode::NOT_FOUND,
		(Reason::NotStreamParty, _) => StatusCode::FORBIDDEN,
		(Reason::StreamEnded | Reason::EpochNotKept, _) => StatusCode::GONE,
		(Reason::NotYet, _) => StatusCode::SERVICE_UNAVAILABLE,
		(Reason::Other, Kind::BadInput) => StatusCode::BAD_REQUEST,
		(Reason::Other, Kind::Unreachable) => StatusCode::BAD_GATEWAY,
		(Reason::Other, Kind::Refused) => StatusCode::CONFLICT,
	}
}

impl From<Failure> for Problem {
	fn from(failure: Failure) -> Self {
		let reason = match failure.reason {
			Reason::Other => failure.kind.name(),
			reason => reason.name(),
		};
		Self {
			status: status_of(&failure),
			reason,
			kind: Some(failure.kind),
			detail: failure.message,
			hint: failure.hint,
		}
	}
}

impl From<keyorch_client::Error> for Problem {
	fn from(error: keyorch_client::Error) -> Self {
		Failure::from(error).into()
	}
}

/// An error answer's body (RFC 9457).
#[derive(Serialize, ToSchema)]
pub struct ProblemDocument {
	/// `urn:keyorch:problem:` and the reason.
	#[serde(rename = "type")]
	problem_type: String,
	/// The HTTP status's name.
	title: &'static str,
	status: u16,
	/// What went wrong, for people.
	detail: String,
	/// What went wrong, for programs: `bad-input`, `unreachable`, `refused`, `unknown-stream`,
	/// `not-stream-party`, `stream-ended`, `epoch-not-kept`, `not-yet`, or one of the agent's
	/// own: `unauthorized`, `key-export-disabled`, `no-route`, `method-not-allowed`,
	/// `too-large`, `not-json`.
	reason: &'static str,
	/// The CLI's failure kind, where the CLI has this failure.
	kind: Option<&'static str>,
	/// The CLI's exit code for it.
	exit_code: Option<u8>,
	/// What may help.
	hint: Option<String>,
}

impl IntoResponse for Problem {
	fn into_response(self) -> Response {
		let body = ProblemDocument {
			problem_type: format!("urn:keyorch:problem:{}", self.reason),
			title: self.status.canonical_reason().unwrap_or("error"),
			status: self.status.as_u16(),
			detail: self.detail,
			reason: self.reason,
			kind: self.kind.map(Kind::name),
			exit_code: self.kind.map(|kind| kind as u8),
			hint: self.hint,
		};
		let mut response = (self.status, crate::output::json(&body)).into_response();
		response
			.headers_mut()
			.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(PROBLEM_JSON));
		if self.status == StatusCode::UNAUTHORIZED {
			response
				.headers_mut()
				.insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
		}
		response
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn failures_get_the_status_of_their_reason_or_kind() {
		let cases = [
			(Failure::input("x"), StatusCode::BAD_REQUEST, "bad-input"),
			(Failure::new(Kind::Unreachable, "x"), StatusCode::BAD_GATEWAY, "unreachable"),
			(Failure::new(Kind::Refused, "x"), StatusCode::CONFLICT, "refused"),
			(
				Failure::new(Kind::Refused, "x").because(Reason::UnknownStream),
				StatusCode::NOT_FOUND,
				"unknown-stream",
			),
			(
				Failure::new(Kind::Refused, "x").because(Reason::StreamEnded),
				StatusCode::GONE,
				"stream-ended",
			),
			(
				Failure::new(Kind::Refused, "x").because(Reason::NotYet),
				StatusCode::SERVICE_UNAVAILABLE,
				"not-yet",
			),
		];
		for (failure, status, reason) in cases {
			let problem = Problem::from(failure);
			assert_eq!((problem.status, problem.reason), (status, reason));
		}
	}
}
