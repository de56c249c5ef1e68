//! The agent's HTTP API, version 1: JSON bodies, bearer-token authentication, problem details.

use std::{
	sync::{atomic::Ordering, Arc},
	time::Instant,
};

use axum::{
	body::Bytes,
	extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Query, Request, State},
	http::{header, StatusCode},
	middleware::{self, Next},
	response::{IntoResponse, Response},
	routing::{get, post},
	Json, Router,
};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use keyorch_client::{Included, StreamId};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{
	events::{self, Subscriptions},
	keyring::KeyRing,
	metrics::Metrics,
	problem::{AgentRefusal, Problem},
};
use crate::{
	failure::Failure,
	input::{self, hex},
	request::RequestArgs,
	status,
};

/// The largest request body: a 1 MiB message in base64 with room for the rest.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// What the handlers share.
pub struct Agent {
	pub keyring: KeyRing,
	/// The bearer token every request but `GET /v1/health` carries.
	pub token: Zeroizing<String>,
	/// Whether `GET /v1/streams/{id}/keys/{epoch}` hands out keys.
	pub allow_key_export: bool,
	pub metrics: Metrics,
	pub subscriptions: Subscriptions,
}

type Shared = State<Arc<Agent>>;
type Answer = Result<Response, Problem>;

/// Who may call a listener's routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
	/// Whoever presents the bearer token (loopback TCP).
	BearerToken,
	/// Whoever the socket let in: its owner (see `socket::OwnerOnly`).
	SocketOwner,
}

/// The agent's routes, for a listener whose callers are let in by `access`.
pub fn router(agent: Arc<Agent>, access: Access) -> Router {
	let mut authenticated = Router::new()
		.route("/v1/streams", post(request_stream))
		.route("/v1/streams/{id}", get(stream_status))
		.route("/v1/streams/{id}/rotate", post(rotate))
		.route("/v1/streams/{id}/revoke", post(revoke))
		.route("/v1/streams/{id}/close", post(close))
		.route("/v1/streams/{id}/seal", post(seal))
		.route("/v1/streams/{id}/open", post(open))
		.route("/v1/streams/{id}/keys/{epoch}", get(export_keys))
		.route("/v1/streams/{id}/events", get(stream_events))
		.route("/v1/usage", post(report_usage))
		.route("/metrics", get(metrics));
	if access == Access::BearerToken {
		authenticated =
			authenticated.route_layer(middleware::from_fn_with_state(agent.clone(), authenticate));
	}
	Router::new()
		.route("/v1/health", get(health))
		.merge(authenticated)
		.fallback(|| async { Problem::refused(AgentRefusal::NoRoute, "no such path") })
		.method_not_allowed_fallback(|| async {
			Problem::refused(
				AgentRefusal::MethodNotAllowed,
				"the path exists, not with this method",
			)
		})
		.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
		.layer(middleware::from_fn_with_state(agent.clone(), observe))
		.with_state(agent)
}

/// Logs each request's method, path, status and time, never a header or a body, and counts it
/// by route.
async fn observe(State(agent): Shared, request: Request, next: Next) -> Response {
	let started = Instant::now();
	let (method, path) = (request.method().clone(), request.uri().path().to_owned());
	let route = request.extensions().get::<MatchedPath>().map(|route| route.as_str().to_owned());
	let response = next.run(request).await;
	let status = response.status().as_u16();
	agent.metrics.request(route.as_deref().unwrap_or("unmatched"), status);
	eprintln!("{method} {path} -> {status} in {} ms", started.elapsed().as_millis());
	response
}

/// Lets through requests that carry the agent's bearer token, compared in constant time.
async fn authenticate(State(agent): Shared, request: Request, next: Next) -> Response {
	let presented = request
		.headers()
		.get(header::AUTHORIZATION)
		.and_then(|value| value.to_str().ok())
		.and_then(|value| value.strip_prefix("Bearer "));
	match presented {
		Some(token) if bool::from(token.as_bytes().ct_eq(agent.token.as_bytes())) => {
			next.run(request).await
		},
		Some(_) => {
			Problem::refused(AgentRefusal::Unauthorized, "wrong bearer token").into_response()
		},
		None => Problem::refused(
			AgentRefusal::Unauthorized,
			"no bearer token: send `Authorization: Bearer <the agent's token file>`",
		)
		.into_response(),
	}
}

/// A JSON body of type `T` (an empty body is `{}`), refused as problem details.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
	type Rejection = Problem;

	async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
		let json = request
			.headers()
			.get(header::CONTENT_TYPE)
			.and_then(|value| value.to_str().ok())
			.is_some_and(|value| value.starts_with("application/json"));
		let body = Bytes::from_request(request, state).await.map_err(|rejection| {
			if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
				Problem::refused(
					AgentRefusal::TooLarge,
					format!("the body is larger than {MAX_BODY_BYTES} bytes"),
				)
			} else {
				Failure::input(format!("cannot read the body: {rejection}")).into()
			}
		})?;
		let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
		if !json && body != b"{}" {
			return Err(Problem::refused(
				AgentRefusal::NotJson,
				"send the body as Content-Type: application/json",
			));
		}
		serde_json::from_slice(body).map(JsonBody).map_err(|error| {
			Failure::input(format!("the body is not what this path takes: {error}")).into()
		})
	}
}

fn base64_field(name: &str, text: &str) -> Result<Vec<u8>, Problem> {
	BASE64
		.decode(text)
		.map_err(|error| Failure::input(format!("{name} is not standard base64: {error}")).into())
}

fn stream_id(id: &str) -> Result<StreamId, Problem> {
	Ok(input::stream_id(id)?)
}

/// The answer to a call included in a block.
fn included(stream: StreamId, included: Included) -> Response {
	Json(json!({ "stream": hex(stream.as_bytes()), "block": included.number })).into_response()
}

async fn health(State(agent): Shared) -> Answer {
	let client = agent.keyring.client();
	let health = client.health().await?;
	Ok(Json(json!({
		"status": "ok",
		"account": agent.keyring.identity().signer().account_id().to_string(),
		"node": { "peers": health.peers, "is_syncing": health.is_syncing },
		"key_export": agent.allow_key_export,
	}))
	.into_response())
}

/// `POST /v1/streams`: what `keyorch request` takes, with the same names and defaults.
async fn request_stream(State(agent): Shared, JsonBody(body): JsonBody<RequestArgs>) -> Answer {
	let request = body.stream_request()?;
	let keyring = &agent.keyring;
	let (stream, block) =
		keyring.client().request_stream(keyring.identity().signer(), &request).await?;
	let answer = json!({ "stream": hex(stream.as_bytes()), "block": block });
	Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /v1/streams/{id}`: the fields of `keyorch status --json`.
async fn stream_status(State(agent): Shared, Path(id): Path<String>) -> Answer {
	let fields = status::fetch(agent.keyring.client(), stream_id(&id)?).await?;
	Ok(Json(status::to_json(fields)).into_response())
}

async fn rotate(State(agent): Shared, Path(id): Path<String>) -> Answer {
	let stream = stream_id(&id)?;
	let keyring = &agent.keyring;
	let done = keyring.client().rotate(keyring.identity().signer(), stream).await?;
	Ok(included(stream, done))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
	#[serde(default)]
	reason: String,
}

async fn revoke(
	State(agent): Shared,
	Path(id): Path<String>,
	JsonBody(body): JsonBody<RevokeBody>,
) -> Answer {
	let stream = stream_id(&id)?;
	let keyring = &agent.keyring;
	let done = keyring.client().revoke(keyring.identity().signer(), stream, &body.reason).await;
	keyring.forget(stream);
	Ok(included(stream, done?))
}

async fn close(State(agent): Shared, Path(id): Path<String>) -> Answer {
	let stream = stream_id(&id)?;
	let keyring = &agent.keyring;
	let done = keyring.client().close(keyring.identity().signer(), stream).await;
	keyring.forget(stream);
	Ok(included(stream, done?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageBody {
	stream: String,
	bytes: u64,
}

/// `POST /v1/usage`: bytes of traffic, toward the stream's byte-budget rotation.
async fn report_usage(State(agent): Shared, JsonBody(body): JsonBody<UsageBody>) -> Answer {
	let stream = stream_id(&body.stream)?;
	let keyring = &agent.keyring;
	let done =
		keyring.client().report_usage(keyring.identity().signer(), stream, body.bytes).await?;
	Ok(included(stream, done))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SealBody {
	/// The message, base64.
	plaintext: String,
	/// Associated data, base64: authenticated, not encrypted, not carried in the message.
	#[serde(default)]
	aad: String,
}

/// `POST /v1/streams/{id}/seal`: a message sealed under the current epoch's key.
async fn seal(
	State(agent): Shared,
	Path(id): Path<String>,
	JsonBody(body): JsonBody<SealBody>,
) -> Answer {
	let stream = stream_id(&id)?;
	let plaintext = Zeroizing::new(base64_field("plaintext", &body.plaintext)?);
	let aad = base64_field("aad", &body.aad)?;
	let sealed = agent.keyring.seal(stream, &aad, &plaintext).await?;
	agent.metrics.sealed.fetch_add(1, Ordering::Relaxed);
	Ok(Json(json!({ "epoch": sealed.epoch, "message": BASE64.encode(&sealed.message) }))
		.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
	/// The sealed message, base64.
	message: String,
	/// The associated data it was sealed with, base64.
	#[serde(default)]
	aad: String,
}

/// `POST /v1/streams/{id}/open`: a message the other party sealed, opened.
async fn open(
	State(agent): Shared,
	Path(id): Path<String>,
	JsonBody(body): JsonBody<OpenBody>,
) -> Answer {
	let stream = stream_id(&id)?;
	let message = base64_field("message", &body.message)?;
	let aad = base64_field("aad", &body.aad)?;
	let opened = agent.keyring.open(stream, &aad, &message).await?;
	agent.metrics.opened.fetch_add(1, Ordering::Relaxed);
	let plaintext = Zeroizing::new(BASE64.encode(&opened.plaintext[..]));
	Ok(Json(json!({ "epoch": opened.epoch, "plaintext": plaintext.as_str() })).into_response())
}

/// `GET /v1/streams/{id}/keys/{epoch}` (`current` for the current one): only with
/// `--allow-key-export`.
async fn export_keys(State(agent): Shared, Path((id, epoch)): Path<(String, String)>) -> Answer {
	if !agent.allow_key_export {
		return Err(Problem::refused(
			AgentRefusal::KeyExportDisabled,
			"this agent does not hand out keys: start it with --allow-key-export, or use \
			 /seal and /open",
		));
	}
	let stream = stream_id(&id)?;
	let epoch = match epoch.as_str() {
		"current" => None,
		number => Some(number.parse::<u32>().map_err(|_| {
			Failure::input(format!("not an epoch: {number:?} (a number, or `current`)"))
		})?),
	};
	let exported = agent.keyring.export(stream, epoch).await?;
	let [to_provider, to_initiator] = &*exported.keys;
	let answer: Value = json!({
		"stream": hex(stream.as_bytes()),
		"epoch": exported.epoch,
		"fingerprint": exported.fingerprint,
		"initiator_to_provider": hex(to_provider),
		"provider_to_initiator": hex(to_initiator),
	});
	Ok(Json(answer).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
	/// The first finalized block to read events from; the next one by default.
	from: Option<u32>,
}

/// `GET /v1/streams/{id}/events`: Server-Sent Events of the stream's epochs and end.
async fn stream_events(
	State(agent): Shared,
	Path(id): Path<String>,
	query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
	let stream = stream_id(&id)?;
	let Query(query) =
		query.map_err(|error| Problem::from(Failure::input(format!("bad query: {error}"))))?;
	Ok(events::subscribe(agent, stream, query.from).await?.into_response())
}

/// `GET /metrics`: Prometheus text.
async fn metrics(State(agent): Shared) -> Response {
	let text = agent.metrics.render(agent.keyring.kept_epochs(), agent.subscriptions.open());
	([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
