//! The agent's HTTP API, version 1: JSON bodies, bearer-token authentication, problem details,
//! and an OpenAPI document generated from the handlers (`GET /v1/openapi.json`).

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
use keyorch_client::StreamId;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use zeroize::{Zeroize, Zeroizing};

use super::{
	events::{self, Subscriptions},
	keyring::KeyRing,
	metrics::Metrics,
	openapi,
	problem::{AgentRefusal, Problem},
};
use crate::{
	commands::{
		close, request,
		request::{RequestArgs, Requested},
		revoke, rotate,
		status::{self, StreamReport},
		streams::{self, StreamList, StreamsArgs},
		usage, StreamChange,
	},
	failure::Failure,
	input::{self, hex},
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
		.route("/v1/streams", post(request_stream).get(list_streams))
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
		.route("/v1/openapi.json", get(openapi_document))
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

fn bad_query(error: axum::extract::rejection::QueryRejection) -> Problem {
	Failure::input(format!("bad query: {error}")).into()
}

/// The path parameter of a stream's routes.
const STREAM_ID: &str = "the stream id: 0x and 64 hex digits";

/// The agent, its identity and its node.
#[derive(Serialize, ToSchema)]
pub struct Health {
	/// `ok`.
	status: &'static str,
	/// The identity's account.
	account: String,
	node: NodeHealth,
	/// Whether the agent hands out keys (`--allow-key-export`).
	key_export: bool,
}

/// What the node says of itself.
#[derive(Serialize, ToSchema)]
pub struct NodeHealth {
	peers: u64,
	is_syncing: bool,
}

/// `GET /v1/health`: the agent is up and its node answers.
#[utoipa::path(get, path = "/v1/health", tag = "agent", responses((status = 200, body = Health)))]
async fn health(State(agent): Shared) -> Result<Json<Health>, Problem> {
	let health = agent.keyring.client().health().await?;
	Ok(Json(Health {
		status: "ok",
		account: agent.keyring.identity().signer().account_id().to_string(),
		node: NodeHealth { peers: health.peers, is_syncing: health.is_syncing },
		key_export: agent.allow_key_export,
	}))
}

/// `GET /v1/openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "agent", responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
async fn openapi_document() -> Response {
	([(header::CONTENT_TYPE, "application/json")], openapi::document()).into_response()
}

/// `POST /v1/streams`: what `keyorch request` takes, with the same names and defaults.
#[utoipa::path(post, path = "/v1/streams", tag = "streams", request_body = RequestArgs, responses((status = 201, body = Requested)))]
async fn request_stream(
	State(agent): Shared,
	JsonBody(body): JsonBody<RequestArgs>,
) -> Result<(StatusCode, Json<Requested>), Problem> {
	let keyring = &agent.keyring;
	let requested = request::request(keyring.client(), keyring.identity().signer(), body).await?;
	Ok((StatusCode::CREATED, Json(requested)))
}

/// `GET /v1/streams`: the open streams this identity is initiator or provider of.
#[utoipa::path(get, path = "/v1/streams", tag = "streams", params(StreamsArgs), responses((status = 200, body = StreamList)))]
async fn list_streams(
	State(agent): Shared,
	query: Result<Query<StreamsArgs>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<StreamList>, Problem> {
	let Query(query) = query.map_err(bad_query)?;
	let keyring = &agent.keyring;
	let account = keyring.identity().signer().account_id();
	Ok(Json(streams::list(keyring.client(), &account, &query).await?))
}

/// `GET /v1/streams/{id}`: what `keyorch status` shows.
#[utoipa::path(get, path = "/v1/streams/{id}", tag = "streams", params(("id" = String, Path, description = STREAM_ID)), responses((status = 200, body = StreamReport)))]
async fn stream_status(
	State(agent): Shared,
	Path(id): Path<String>,
) -> Result<Json<StreamReport>, Problem> {
	Ok(Json(status::fetch(agent.keyring.client(), stream_id(&id)?).await?))
}

/// `POST /v1/streams/{id}/rotate`: a new key epoch now.
#[utoipa::path(post, path = "/v1/streams/{id}/rotate", tag = "streams", params(("id" = String, Path, description = STREAM_ID)), responses((status = 200, body = StreamChange)))]
async fn rotate(
	State(agent): Shared,
	Path(id): Path<String>,
) -> Result<Json<StreamChange>, Problem> {
	let keyring = &agent.keyring;
	Ok(Json(rotate::rotate(keyring.client(), keyring.identity().signer(), stream_id(&id)?).await?))
}

/// The body of `POST /v1/streams/{id}/revoke`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
	/// A short reason, recorded on chain.
	#[serde(default)]
	reason: String,
}

/// `POST /v1/streams/{id}/revoke`: witnesses stop releasing the stream's keys; the agent drops
/// the keys it holds.
#[utoipa::path(post, path = "/v1/streams/{id}/revoke", tag = "streams", params(("id" = String, Path, description = STREAM_ID)), request_body(content = Option<RevokeBody>, description = "optional: an empty body is no reason"), responses((status = 200, body = StreamChange)))]
async fn revoke(
	State(agent): Shared,
	Path(id): Path<String>,
	JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Json<StreamChange>, Problem> {
	let stream = stream_id(&id)?;
	let keyring = &agent.keyring;
	let done = revoke::revoke(keyring.client(), keyring.identity().signer(), stream, &body.reason);
	let done = done.await;
	keyring.forget(stream);
	Ok(Json(done?))
}

/// `POST /v1/streams/{id}/close`: the stream ends; the agent drops the keys it holds.
#[utoipa::path(post, path = "/v1/streams/{id}/close", tag = "streams", params(("id" = String, Path, description = STREAM_ID)), responses((status = 200, body = StreamChange)))]
async fn close(
	State(agent): Shared,
	Path(id): Path<String>,
) -> Result<Json<StreamChange>, Problem> {
	let stream = stream_id(&id)?;
	let keyring = &agent.keyring;
	let done = close::close(keyring.client(), keyring.identity().signer(), stream).await;
	keyring.forget(stream);
	Ok(Json(done?))
}

/// The body of `POST /v1/usage`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UsageBody {
	/// The stream id.
	stream: String,
	/// The bytes carried since the last report.
	bytes: u64,
}

/// `POST /v1/usage`: bytes of traffic, toward the stream's byte-budget rotation.
#[utoipa::path(post, path = "/v1/usage", tag = "streams", request_body = UsageBody, responses((status = 200, body = StreamChange)))]
async fn report_usage(
	State(agent): Shared,
	JsonBody(body): JsonBody<UsageBody>,
) -> Result<Json<StreamChange>, Problem> {
	let stream = stream_id(&body.stream)?;
	let keyring = &agent.keyring;
	Ok(Json(
		usage::report(keyring.client(), keyring.identity().signer(), stream, body.bytes).await?,
	))
}

/// The body of `POST /v1/streams/{id}/seal`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SealBody {
	/// The message, base64.
	plaintext: String,
	/// Associated data, base64: authenticated, not encrypted, not carried in the message.
	#[serde(default)]
	aad: String,
}

impl Drop for SealBody {
	fn drop(&mut self) {
		self.plaintext.zeroize();
	}
}

/// A message sealed.
#[derive(Serialize, ToSchema)]
struct Sealed {
	/// The epoch whose key sealed it.
	epoch: u32,
	/// The sealed message, base64: what the other party's `/open` takes.
	message: String,
}

/// `POST /v1/streams/{id}/seal`: a message sealed under the current epoch's key.
#[utoipa::path(post, path = "/v1/streams/{id}/seal", tag = "messages", params(("id" = String, Path, description = STREAM_ID)), request_body = SealBody, responses((status = 200, body = Sealed)))]
async fn seal(
	State(agent): Shared,
	Path(id): Path<String>,
	JsonBody(body): JsonBody<SealBody>,
) -> Result<Json<Sealed>, Problem> {
	let stream = stream_id(&id)?;
	let plaintext = Zeroizing::new(base64_field("plaintext", &body.plaintext)?);
	let aad = base64_field("aad", &body.aad)?;
	let sealed = agent.keyring.seal(stream, &aad, &plaintext).await?;
	agent.metrics.sealed.fetch_add(1, Ordering::Relaxed);
	Ok(Json(Sealed { epoch: sealed.epoch, message: BASE64.encode(&sealed.message) }))
}

/// The body of `POST /v1/streams/{id}/open`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OpenBody {
	/// The sealed message, base64.
	message: String,
	/// The associated data it was sealed with, base64.
	#[serde(default)]
	aad: String,
}

/// A message opened.
#[derive(Serialize, ToSchema)]
struct Opened {
	/// The epoch whose key sealed it.
	epoch: u32,
	/// The message, base64.
	plaintext: String,
}

impl Drop for Opened {
	fn drop(&mut self) {
		self.plaintext.zeroize();
	}
}

/// `POST /v1/streams/{id}/open`: a message the other party sealed, opened.
#[utoipa::path(post, path = "/v1/streams/{id}/open", tag = "messages", params(("id" = String, Path, description = STREAM_ID)), request_body = OpenBody, responses((status = 200, body = Opened)))]
async fn open(
	State(agent): Shared,
	Path(id): Path<String>,
	JsonBody(body): JsonBody<OpenBody>,
) -> Result<Json<Opened>, Problem> {
	let stream = stream_id(&id)?;
	let message = base64_field("message", &body.message)?;
	let aad = base64_field("aad", &body.aad)?;
	let opened = agent.keyring.open(stream, &aad, &message).await?;
	agent.metrics.opened.fetch_add(1, Ordering::Relaxed);
	Ok(Json(Opened { epoch: opened.epoch, plaintext: BASE64.encode(&opened.plaintext[..]) }))
}

/// An epoch's two directional AES-256 keys.
#[derive(Serialize, ToSchema)]
struct ExportedKeys {
	stream: String,
	epoch: u32,
	/// The keys' fingerprint, as `keyorch key` prints it.
	fingerprint: String,
	/// The key of what the initiator sends, hex.
	initiator_to_provider: String,
	/// The key of what the provider sends, hex.
	provider_to_initiator: String,
}

impl Drop for ExportedKeys {
	fn drop(&mut self) {
		self.initiator_to_provider.zeroize();
		self.provider_to_initiator.zeroize();
	}
}

/// `GET /v1/streams/{id}/keys/{epoch}` (`current` for the current one): only with
/// `--allow-key-export`.
#[utoipa::path(get, path = "/v1/streams/{id}/keys/{epoch}", tag = "messages", params(("id" = String, Path, description = STREAM_ID), ("epoch" = String, Path, description = "an epoch number, or `current`")), responses((status = 200, body = ExportedKeys)))]
async fn export_keys(
	State(agent): Shared,
	Path((id, epoch)): Path<(String, String)>,
) -> Result<Json<ExportedKeys>, Problem> {
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
	Ok(Json(ExportedKeys {
		stream: hex(stream.as_bytes()),
		epoch: exported.epoch,
		fingerprint: exported.fingerprint.clone(),
		initiator_to_provider: hex(to_provider),
		provider_to_initiator: hex(to_initiator),
	}))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
	/// The first finalized block to read events from; the next one by default.
	from: Option<u32>,
}

/// `GET /v1/streams/{id}/events`: Server-Sent Events of the stream's epochs and end.
#[utoipa::path(get, path = "/v1/streams/{id}/events", tag = "streams", params(("id" = String, Path, description = STREAM_ID), EventsQuery), responses((status = 200, description = "events `epoch` (an epoch installed) and `ended`, each data a JSON object", content_type = "text/event-stream", body = String)))]
async fn stream_events(
	State(agent): Shared,
	Path(id): Path<String>,
	query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
	let stream = stream_id(&id)?;
	let Query(query) = query.map_err(bad_query)?;
	Ok(events::subscribe(agent, stream, query.from).await?.into_response())
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(get, path = "/metrics", tag = "agent", responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
async fn metrics(State(agent): Shared) -> Response {
	let text = agent.metrics.render(agent.keyring.kept_epochs(), agent.subscriptions.open());
	([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
