// Loaded with NODE_OPTIONS=--require into every node process of a `cdk` CLI run (the CLI and
// jsii's runtime). Records, then refuses, any TCP connection or DNS lookup that is not loopback,
// so a test can assert that the CLI's notices, telemetry and version check stayed off.
'use strict';
const fs = require('fs');
const net = require('net');
const dns = require('dns');

const logFile = process.env.RETAILSAGE_NETGUARD_LOG;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function record(kind, target) {
  if (logFile) fs.appendFileSync(logFile, `${process.pid} ${kind} ${target}\n`);
}

function target(args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first && typeof first === 'object') {
    return first.path ? null : { host: first.host || 'localhost', port: first.port };
  }
  if (typeof first === 'number' || /^\d+$/.test(String(first))) {
    return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: first };
  }
  return null; // a Unix socket path
}

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const dest = target(args);
  if (dest && !LOOPBACK.has(dest.host)) {
    record('connect', `${dest.host}:${dest.port}`);
    const error = new Error(`netguard: refused connection to ${dest.host}:${dest.port}`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return originalConnect.apply(this, args);
};

const originalLookup = dns.lookup;
dns.lookup = function guardedLookup(hostname, ...rest) {
  if (!LOOPBACK.has(hostname)) record('lookup', hostname);
  return originalLookup.call(this, hostname, ...rest);
};
