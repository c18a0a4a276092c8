// Real services for the shared-state, client and demo tests: the `oathmesh` CLI (issuer
// server, audit verify), Redis and pkl. scripts/test-node.sh provides them; a missing one
// fails the test rather than skipping it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function requiredEnv(name: string, what: string): string {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: ${what} (scripts/test-node.sh sets it)`);
  return value;
}

export const oathmeshBin = (): string => requiredEnv('OATHMESH_BIN', 'the path of the built `oathmesh` CLI');
export const redisUrl = (): string => requiredEnv('OATHMESH_TEST_REDIS_URL', 'a private redis-server (scripts/lib/redis.sh)');
export const pklPath = (): string => requiredEnv('OATHMESH_PKL', 'the `pkl` CLI (scripts/lib/pkl.sh)');

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'oathmesh-node-'));

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `url` until it answers 200. */
export async function waitForHttp(url: string, child?: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assert.equal(child?.exitCode ?? null, null, `${url}: the process exited early`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    assert.ok(Date.now() < deadline, `${url} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function redisCli(...args: string[]): string {
  const out = spawnSync('redis-cli', ['-u', redisUrl(), ...args], { encoding: 'utf8' });
  assert.equal(out.status, 0, `redis-cli ${args.join(' ')}: ${out.stderr}`);
  return out.stdout.trim();
}

export interface IssuerClientEntry {
  id: string;
  secret?: string;
  publicKeyPem?: string;
  allowedSub: string[];
  allowedAud: string[];
  allowedAct: string[];
}

export interface RunningIssuer {
  /** `http://127.0.0.1:PORT`: the `iss` of its tokens and the base of its JWKS URL. */
  url: string;
  stop(): void;
}

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');
const toml = (value: unknown): string => JSON.stringify(value); // TOML basic strings and arrays are JSON-compatible here

/** Starts `oathmesh serve` with a freshly rotated key and the given clients. */
export async function startIssuer(clients: IssuerClientEntry[]): Promise<RunningIssuer> {
  const dir = tempDir();
  const keys = spawnSync(oathmeshBin(), ['keys', 'rotate', '--dir', join(dir, 'keys')], { encoding: 'utf8' });
  assert.equal(keys.status, 0, `oathmesh keys rotate: ${keys.stderr}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const lines = [`issuer = ${toml(url)}`, `listen = "127.0.0.1:${port}"`, 'key_dir = "keys"'];
  for (const c of clients) {
    lines.push('', '[[clients]]', `id = ${toml(c.id)}`);
    if (c.secret !== undefined) lines.push(`secret_sha256 = ${toml(sha256Hex(c.secret))}`);
    if (c.publicKeyPem !== undefined) lines.push(`public_key_pem = ${toml(c.publicKeyPem)}`);
    lines.push(`allowed_sub = ${toml(c.allowedSub)}`, `allowed_aud = ${toml(c.allowedAud)}`, `allowed_act = ${toml(c.allowedAct)}`);
  }
  writeFileSync(join(dir, 'issuer.toml'), lines.join('\n') + '\n');
  const child = spawn(oathmeshBin(), ['serve', '--config', join(dir, 'issuer.toml')], {
    // Its log (one line per mint) goes to a file beside its config, for post-mortems.
    stdio: ['ignore', 'ignore', openSync(join(dir, 'issuer.log'), 'w')],
  });
  const stop = () => {
    if (child.exitCode === null) child.kill();
  };
  process.once('exit', stop);
  await waitForHttp(`${url}/healthz`, child);
  return { url, stop };
}
