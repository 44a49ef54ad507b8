// Starts `proto-rules lsp` for .proto-rules files and connects VS Code to it over stdio: every
// feature (diagnostics, hover, definition, references, completion, outline, formatting) is the
// server's; this file only says how to start it.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("proto-rules").get("server.command") || "proto-rules";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "proto-rules",
    "proto-rules",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "proto-rules" }, { scheme: "untitled", language: "proto-rules" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
