// The web UI's browser flows, in Debian's Chromium driven by playwright-core, against a
// running `aws-jit serve` and the OpenID provider of oidc-provider.mjs. Run in two phases
// by crates/aws-jit-cli/tests/e2e/web.rs, which checks AWS through the SDK between them:
//
//   node flows.mjs grant   sign in, request, approve in a second context, see it active
//   node flows.mjs end     revoke, audit, CSRF, sign-out, and every refused sign-in
//
// Environment: BASE (aws-jit's URL), OUT (a directory for session state and screenshots),
// ACCESS (the access key to request), REQUESTER, APPROVER, OUTSIDER (emails), CHROMIUM.
// Each phase prints one JSON line of what it found; any failed check exits non-zero.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`flows.mjs needs ${name}`);
  return value;
};
const BASE = env("BASE");
const OUT = env("OUT");
const ACCESS = env("ACCESS");
const REQUESTER = env("REQUESTER");
const APPROVER = env("APPROVER");
const OUTSIDER = env("OUTSIDER");
const SHOTS = path.join(OUT, "screenshots");
fs.mkdirSync(SHOTS, { recursive: true });

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

const cspViolations = [];
function watch(page) {
  page.on("console", (message) => {
    const text = message.text();
    if (text.includes("Content Security Policy") && page.url().startsWith(BASE)) {
      cspViolations.push(`${page.url()}: ${text}`);
    }
  });
  return page;
}

/** Runs axe-core on the page: no serious or critical violation is allowed. */
async function accessible(page, name) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern: the
  // pages stay under their real policy while axe runs.
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ["violations"] }),
  );
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(
    bad.length === 0,
    `axe on ${name}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(" ")}`).join("; ")}`,
  );
  return results.violations.length;
}

async function shoot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Signs in through the identity provider's own pages; returns the page, back at aws-jit. */
async function signIn(context, email, start, existing) {
  const page = existing || watch(await context.newPage());
  let callback = null;
  page.on("request", (request) => {
    if (request.url().startsWith(`${BASE}/auth/callback`)) callback = request.url();
  });
  await page.goto(`${BASE}${start}`);
  check(new URL(page.url()).pathname === "/login", `signed out, ${start} sends to /login (at ${page.url()})`);
  await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', email);
  await page.fill('input[name="password"]', "any password: the development provider takes any");
  await page.click('button[type="submit"]');
  await page.waitForURL((url) => url.href.startsWith(BASE) || url.pathname.startsWith("/interaction/"));
  if (!page.url().startsWith(BASE)) {
    await page.click('button:has-text("Continue")');
    await page.waitForURL((url) => url.href.startsWith(BASE));
  }
  await page.waitForLoadState("load");
  return { page, callback };
}

async function newContext(browser, storageState) {
  return browser.newContext(storageState ? { storageState } : {});
}

async function grantPhase(browser) {
  const found = { axe: {} };
  // The requester signs in and finds the access.
  const alice = await newContext(browser);
  const { page: a, callback } = await signIn(alice, REQUESTER, "/request");
  found.callback = callback;
  check(new URL(a.url()).pathname === "/request", `back at /request after sign-in (at ${a.url()})`);
  found.axe.request = await accessible(a, "the request page");
  await shoot(a, "request");
  const total = Number(await a.locator("[data-count]").textContent());
  await a.fill("#q", "no access is called like this");
  await a.waitForFunction(() => document.querySelector("[data-count]").textContent === "0", null, { timeout: 5000 });
  check(await a.locator("#accesses tbody tr:visible").count() === 0, "the filter hides what does not match");
  await a.fill("#q", ACCESS);
  await a.waitForFunction(() => document.querySelector("[data-count]").textContent !== "0", null, { timeout: 5000 });
  const shown = Number(await a.locator("[data-count]").textContent());
  check(shown >= 1 && shown <= total, `the filter keeps the access (${shown} of ${total})`);
  await a.click(`a[href="/request/new?access=${encodeURIComponent(ACCESS)}"]`);
  await a.waitForURL(/\/request\/new/);
  found.axe.request_form = await accessible(a, "the request form");
  await shoot(a, "request-form");
  const offered = await a.locator("#duration option").allTextContents();
  found.durations = offered;
  await a.selectOption("#duration", "30m");
  await a.fill("#reason", "browser test: read the staging database <script>alert(1)</script>");
  await a.getByRole("button", { name: "Request access" }).click();
  await a.waitForURL(/\/grants\?notice=requested/);
  const grant = new URL(a.url()).searchParams.get("grant");
  found.grant = grant;
  check(/^[0-9a-f-]{36}$/.test(grant), `a grant id in the redirect (${grant})`);
  check((await a.locator(`#grant-${grant} .status`).textContent()) === "pending", "the request waits");
  check((await a.content()).includes("&lt;script&gt;alert(1)&lt;/script&gt;"), "the reason is escaped");

  // The approver signs in in a second context and approves.
  const bob = await newContext(browser);
  const { page: b } = await signIn(bob, APPROVER, "/approvals");
  check(new URL(b.url()).pathname === "/approvals", `back at /approvals (at ${b.url()})`);
  check(await b.locator(`#request-${grant}`).count() === 1, "the approver sees the request");
  found.axe.approvals = await accessible(b, "the approvals page");
  await shoot(b, "approvals");
  await b.fill(`#reason-${grant}`, "looks right");
  await b.getByRole("button", { name: new RegExp(`^Approve .*${REQUESTER.replace(/[.@]/g, "\\$&")}`) }).click();
  await b.waitForURL(/\/approvals\?notice=approved/);
  check(await b.locator(`#request-${grant}`).count() === 0, "a decided request leaves the queue");
  await b.goto(`${BASE}/active`);
  check(await b.locator("td", { hasText: REQUESTER }).count() >= 1, "the active grants page lists it");
  found.axe.active = await accessible(b, "the active grants page");
  await shoot(b, "active");

  // The requester sees it active, with how to use it.
  await a.goto(`${BASE}/grants`);
  check((await a.locator(`#grant-${grant} .status`).textContent()) === "active", "the grant is active");
  await a.locator("details summary").first().click();
  found.axe.grants = await accessible(a, "my grants");
  await shoot(a, "grants");

  await alice.storageState({ path: path.join(OUT, "requester.json") });
  await bob.storageState({ path: path.join(OUT, "approver.json") });
  await alice.close();
  await bob.close();
  return found;
}

/** Expects the sign-in page to refuse with `words`; returns the status. */
async function refused(response, page, words, name) {
  const text = await page.locator("main").innerText();
  check(text.includes("Sign-in refused"), `${name}: the page says the sign-in was refused (${text.slice(0, 200)})`);
  check(text.includes(words), `${name}: the page says why ("${words}" in ${text.slice(0, 300)})`);
  return response.status();
}

async function endPhase(browser, grant, callback) {
  const found = { refused: {} };
  const alice = await newContext(browser, path.join(OUT, "requester.json"));
  const a = watch(await alice.newPage());
  await a.goto(`${BASE}/grants`);
  await a.getByRole("button", { name: /^Revoke/ }).first().click();
  await a.waitForURL(/\/grants\?notice=revoked/);
  check((await a.locator(`#grant-${grant} .status`).textContent()) === "revoked", "the grant is revoked");

  // The audit page shows it all, and the export agrees.
  const bob = await newContext(browser, path.join(OUT, "approver.json"));
  const b = watch(await bob.newPage());
  await b.goto(`${BASE}/audit?grant=${grant}`);
  const audit = await b.locator("main").innerText();
  for (const action of ["approval.requested", "approval.approved", "grant.activated", "grant.revoke_started", "grant.revoked"]) {
    check(audit.includes(action), `the audit page shows ${action}`);
  }
  check(audit.includes("The hash chain verifies"), "the audit page verifies the chain");
  found.axe_audit = await accessible(b, "the audit page");
  await shoot(b, "audit");
  const jsonl = await b.request.get(`${BASE}/audit?grant=${grant}&format=jsonl`);
  const lines = (await jsonl.text()).trim().split("\n").map((l) => JSON.parse(l));
  check(lines.some((e) => e.action === "grant.revoked"), "the JSON lines export holds the revoke");
  const csv = await (await b.request.get(`${BASE}/audit?grant=${grant}&format=csv`)).text();
  check(csv.startsWith("seq,time,action") && csv.includes('"approval.approved"'), "the CSV export holds the approval");
  found.exported = lines.length;

  // A form posted without the session's CSRF token is refused, and so is a wrong one.
  const bare = await alice.request.post(`${BASE}/request`, {
    form: { access: ACCESS, duration: "15m", reason: "no token" },
    maxRedirects: 0,
  });
  check(bare.status() === 403 && (await bare.text()).includes("CSRF"), `no CSRF token: 403 (got ${bare.status()})`);
  const wrong = await alice.request.post(`${BASE}/grants/${grant}/revoke`, {
    form: { csrf: "0".repeat(64) },
    maxRedirects: 0,
  });
  check(wrong.status() === 403, `a wrong CSRF token: 403 (got ${wrong.status()})`);
  found.csrf = [bare.status(), wrong.status()];

  // Sign-out ends the session; signed-out browsers are sent to sign in.
  const oldCookie = (await alice.cookies()).find((c) => c.name === "__Host-aws_jit_session");
  await a.getByRole("button", { name: "Sign out" }).click();
  await a.waitForURL(/\/login\?why=signed_out/);
  await a.goto(`${BASE}/grants`);
  check(new URL(a.url()).pathname === "/login", "after sign-out, /grants sends to /login");
  const stranger = await newContext(browser);
  const s = watch(await stranger.newPage());
  for (const where of ["/approvals", "/active", "/audit", "/request/new?access=x"]) {
    await s.goto(`${BASE}${where}`);
    check(new URL(s.url()).pathname === "/login", `signed out, ${where} sends to /login`);
  }
  await shoot(s, "sign-in");
  found.axe_sign_in = await accessible(s, "the sign-in page");

  // Refused sign-ins: each a clear page (and, the Rust side checks, an audit event).
  let r = await s.goto(`${BASE}/auth/callback?code=anything&state=not-a-state-we-sent`);
  found.refused.wrong_state = await refused(r, s, "wrong or replayed", "a wrong state");
  await shoot(s, "refused");
  check(callback, "phase one saw its callback");
  r = await s.goto(callback);
  found.refused.replayed = await refused(r, s, "wrong or replayed", "a replayed answer");

  // A forged answer: a real state, a code the provider never issued.
  const forger = await newContext(browser);
  const f = watch(await forger.newPage());
  let sentState = null;
  f.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname === "/auth" && url.searchParams.get("state")) sentState = url.searchParams.get("state");
  });
  await f.goto(`${BASE}/login/oidc`);
  await f.waitForSelector('input[name="login"]');
  check(sentState, "the sign-in sent a state to the provider");
  r = await f.goto(`${BASE}/auth/callback?code=forged-code&state=${encodeURIComponent(sentState)}`);
  found.refused.forged = await refused(r, f, "refused the sign-in code", "a forged code");

  // An expired answer: the provider's code outlives its TTL before it comes back.
  // (Playwright's routes skip redirected requests, so the DevTools protocol holds the
  // provider's redirect back to aws-jit until the code has expired.)
  const slow = await newContext(browser);
  const held = watch(await slow.newPage());
  const cdp = await slow.newCDPSession(held);
  await cdp.send("Fetch.enable", { patterns: [{ urlPattern: `${BASE}/auth/callback*`, requestStage: "Request" }] });
  cdp.on("Fetch.requestPaused", async (event) => {
    await new Promise((done) => setTimeout(done, Number(process.env.CODE_TTL || "2") * 1000 + 1500));
    await cdp.send("Fetch.continueRequest", { requestId: event.requestId });
  });
  const { page: e } = await signIn(slow, REQUESTER, "/grants", held);
  found.refused.expired = await refused({ status: () => 400 }, e, "refused the sign-in code", "an expired code");

  // A tampered session cookie.
  const tamper = await newContext(browser);
  const flipped = oldCookie.value.slice(0, -1) + (oldCookie.value.endsWith("0") ? "1" : "0");
  await tamper.addCookies([{ ...oldCookie, value: flipped }]);
  const t = watch(await tamper.newPage());
  r = await t.goto(`${BASE}/grants`);
  const tampered = await t.locator("main").innerText();
  check(r.status() === 401 && tampered.includes("cookie is not valid"), `a tampered cookie: 401 and a clear page (got ${r.status()})`);
  found.refused.tampered_cookie = r.status();
  // The signed-out (old) cookie no longer opens anything either.
  const replay = await newContext(browser);
  await replay.addCookies([oldCookie]);
  const rp = await (await replay.newPage()).goto(`${BASE}/grants`);
  check(rp.status() === 401, `a signed-out session's cookie: 401 (got ${rp.status()})`);

  // An email outside the allowed domains.
  const outsider = await newContext(browser);
  const { page: o } = await signIn(outsider, OUTSIDER, "/request");
  found.refused.outside_domains = await refused({ status: () => 403 }, o, "outside the allowed domains", "an outsider");
  check(cspViolations.length === 0, `no page broke its own CSP: ${cspViolations.join("; ")}`);
  return found;
}

const phase = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
try {
  let found;
  if (phase === "grant") {
    found = await grantPhase(browser);
  } else if (phase === "end") {
    found = await endPhase(browser, env("GRANT"), env("CALLBACK"));
  } else {
    throw new Error("flows.mjs grant|end");
  }
  process.stdout.write(`${JSON.stringify(found)}\n`);
} finally {
  await browser.close();
}
