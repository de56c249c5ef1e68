#!/usr/bin/env node
// An application in JavaScript that uses keyorch through its agent: it opens messages the other
// party sealed, then follows the stream's key events (Server-Sent Events) until the stream ends.
//
// Node 18 or later, no packages (fetch and a streamed body). Usage:
//
//     node follow_events.mjs AGENT_URL TOKEN_FILE STREAM FROM_BLOCK [MESSAGE ...]
//
// AGENT_URL is the agent's (http://127.0.0.1:8710 by default), TOKEN_FILE the token it wrote,
// STREAM the stream id, FROM_BLOCK the first finalized block to read events from, and each
// MESSAGE a sealed message in base64 (as the other party's agent gave it). Prints one JSON
// line per opened message ({"opened", "epoch"}) and per event ({"event", ...data}); exits 0 when
// the stream ends, 1 with the agent's problem on stderr.

import { readFileSync } from "node:fs";

class AgentError extends Error {
  constructor(problem) {
    super(`${problem.status} ${problem.reason}: ${problem.detail}`);
    this.problem = problem;
  }
}

class Agent {
  constructor(url, tokenFile) {
    this.url = url.replace(/\/$/, "");
    this.token = readFileSync(tokenFile, "ascii").trim();
  }

  async call(method, path, body) {
    const response = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new AgentError(await response.json());
    return response;
  }

  async open(stream, message) {
    const answer = await (await this.call("POST", `/v1/streams/${stream}/open`, { message })).json();
    return { epoch: answer.epoch, opened: Buffer.from(answer.plaintext, "base64").toString() };
  }

  // Yields {event, data} for each Server-Sent Event of the stream from block `from` on.
  async *events(stream, from) {
    const response = await this.call("GET", `/v1/streams/${stream}/events?from=${from}`);
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trim());
        }
        if (data.length > 0) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }
}

const ENDS = new Set(["revoked", "closed", "expired"]);

async function main([url, tokenFile, stream, from, ...messages]) {
  if (from === undefined) {
    console.error("usage: node follow_events.mjs AGENT_URL TOKEN_FILE STREAM FROM_BLOCK [MESSAGE ...]");
    return 2;
  }
  const agent = new Agent(url, tokenFile);
  for (const message of messages) console.log(JSON.stringify(await agent.open(stream, message)));
  for await (const { event, data } of agent.events(stream, from)) {
    console.log(JSON.stringify({ event, ...data }));
    if (event === "error") return 1;
    if (ENDS.has(event)) return 0;
  }
  console.error("error: the event stream ended before the stream did");
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
  },
);
