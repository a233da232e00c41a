// Shared harness for labgate's browser flows: launches Debian's Chromium through
// playwright-core (never a downloaded browser), watches every page for console errors,
// script errors, CSP violations, requests to another origin and unexpected HTTP errors,
// and checks what a screen-reader or keyboard user depends on.
//
// A flow script calls `flow(async (t) => { ... })`; each `t.step` prints "ok - ..." or
// "not ok - ...", and the process exits 0 only when every step passed and the watch saw
// nothing wrong. Settings come from the environment (see `env`).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

// axe-core, pinned in package-lock.json, read from node_modules: never fetched by the page.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/// axe-core's serious and critical violations on the page as it is now, one line each. The
/// script goes in through the DevTools protocol (`evaluate`), so the page's CSP, which allows
/// no inline script, stays as it is.
export async function axe(page) {
  const loaded = await page.evaluate(() => typeof window.axe === "object");
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")})`);
  });
  return violations;
}

/// A required environment variable.
export function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    throw new Error(`environment variable ${name} is not set`);
  }
  return value;
}

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/// Polls `probe` until it returns a truthy value (which is returned) or `ms` pass.
export async function until(probe, what, ms = 5000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// Waits until `locator`'s visible text (whitespace collapsed) contains `text`; returns it.
export async function seeText(locator, text, ms = 10000) {
  let seen = "(nothing)";
  try {
    const shown = await until(
      async () => {
        try {
          seen = (await locator.innerText({ timeout: 1000 })).replace(/\s+/g, " ").trim();
        } catch (e) {
          seen = `(${e.message.split("\n")[0]})`;
          return false;
        }
        return seen.includes(text) ? seen : false;
      },
      `text ${JSON.stringify(text)}`,
      ms,
    );
    await settled(locator.page());
    return shown;
  } catch {
    throw new Error(`expected ${locator} to show ${JSON.stringify(text)}; it shows ${JSON.stringify(seen)}`);
  }
}

/// Waits until htmx has finished every request, swap and settle on the page. Settling is when
/// htmx moves focus to an `autofocus` element of new content: typing before it could land in
/// the wrong field, which no person is fast enough to do.
export async function settled(page) {
  await page.waitForFunction(
    () => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"),
  );
}

/// Records everything a page does that it should not, for every page of a context.
class Watch {
  constructor(base) {
    this.origin = new URL(base).origin;
    this.problems = [];
    this.expected = [];
    this.seen = new Set();
    this.failedLoads = [];
  }

  /// Console errors about failed loads whose status was not declared as intended.
  finish() {
    for (const e of this.expected) {
      this.problem(`expected HTTP ${e.status} for ${e.path} never came`);
    }
    for (const f of this.failedLoads) {
      if (!this.seen.has(f.key)) this.problem(`console error on ${f.on}: ${f.text}`);
    }
  }

  /// Declares that the next answer `status` for a URL whose path is `path` is intended
  /// (a refused sign-in answers 401, refused input 422).
  expectStatus(status, path) {
    this.expected.push({ status, path });
  }

  takeExpected(status, url) {
    const path = new URL(url).pathname;
    const i = this.expected.findIndex((e) => e.status === status && e.path === path);
    if (i < 0) return false;
    this.expected.splice(i, 1);
    this.seen.add(`${status} ${url}`);
    return true;
  }

  problem(text) {
    this.problems.push(text);
    console.log(`# problem: ${text}`);
  }

  async attach(context) {
    // Nothing leaves the machine: a request to another origin is recorded and refused.
    await context.route(
      (url) => url.origin !== this.origin && !["data:", "blob:", "about:"].includes(url.protocol),
      (route) => {
        this.problem(`request to another origin: ${route.request().method()} ${route.request().url()}`);
        return route.abort("blockedbyclient");
      },
    );
    // The page's own securitypolicyviolation events, reported through a binding (bindings
    // and init scripts come in over the DevTools protocol, so the page's CSP is untouched).
    await context.exposeBinding("__labgateCsp", (source, report) => {
      this.problem(`CSP violation on ${source.page?.url()}: ${report}`);
    });
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        window.__labgateCsp(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
      });
    });
    context.on("page", (page) => this.attachPage(page));
    context.on("response", (resp) => {
      const status = resp.status();
      if (status >= 400 && !this.takeExpected(status, resp.url())) {
        this.problem(`unexpected HTTP ${status} for ${resp.request().method()} ${resp.url()}`);
      }
    });
    context.on("requestfailed", (req) => {
      const failure = req.failure()?.errorText ?? "";
      // Downloads end their navigation request with ERR_ABORTED; blocked origins are reported above.
      if (failure.includes("ERR_ABORTED") || failure.includes("ERR_BLOCKED_BY_CLIENT")) return;
      this.problem(`request failed: ${req.method()} ${req.url()}: ${failure}`);
    });
  }

  attachPage(page) {
    page.on("pageerror", (err) => this.problem(`script error on ${page.url()}: ${err.message}`));
    page.on("console", (msg) => {
      const text = msg.text();
      if (/Content.Security.Policy/i.test(text)) {
        this.problem(`CSP message on ${page.url()}: ${text}`);
        return;
      }
      if (msg.type() !== "error") return;
      // Chromium logs every 4xx answer as a console error; the response handler above
      // already judges whether that status was intended (the two events come in either order).
      const failed = text.match(/^Failed to load resource: the server responded with a status of (\d+)/);
      if (failed) {
        this.failedLoads.push({ key: `${failed[1]} ${msg.location().url}`, text, on: page.url() });
        return;
      }
      this.problem(`console error on ${page.url()}: ${text}`);
    });
  }
}

/// Accessibility and layout rules every labgate page keeps; returns the broken ones.
export async function audit(page) {
  return page.evaluate(() => {
    const bad = [];
    const describe = (el) => {
      const id = el.id ? `#${el.id}` : "";
      const name = el.getAttribute("name") ? `[name=${el.getAttribute("name")}]` : "";
      return `<${el.tagName.toLowerCase()}${id}${name}>`;
    };
    if (!document.documentElement.lang) bad.push("<html> has no lang");
    if (!document.title.trim()) bad.push("the page has no title");
    const h1 = document.querySelectorAll("h1");
    if (h1.length !== 1) bad.push(`${h1.length} <h1> headings (want 1)`);
    const ids = new Map();
    for (const el of document.querySelectorAll("[id]")) {
      ids.set(el.id, (ids.get(el.id) ?? 0) + 1);
    }
    for (const [id, n] of ids) if (n > 1) bad.push(`id ${id} used ${n} times`);
    for (const el of document.querySelectorAll("input, select, textarea")) {
      if (el.type === "hidden" || el.hidden) continue;
      const named =
        (el.labels && [...el.labels].some((l) => l.textContent.trim())) ||
        el.getAttribute("aria-label")?.trim() ||
        el.getAttribute("aria-labelledby");
      if (!named) bad.push(`field ${describe(el)} has no label`);
    }
    for (const el of document.querySelectorAll("button, a[href]")) {
      const text = (el.textContent + (el.getAttribute("aria-label") ?? "") + (el.title ?? "")).trim();
      if (!text) bad.push(`${describe(el)} has no text`);
    }
    for (const th of document.querySelectorAll("thead th")) {
      if (th.getAttribute("scope") !== "col") bad.push(`column header "${th.textContent.trim()}" lacks scope="col"`);
    }
    // The phone layout stacks cells and names each one from data-label.
    for (const table of document.querySelectorAll("table.table")) {
      const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
      for (const row of table.querySelectorAll("tbody tr")) {
        [...row.children].forEach((td, i) => {
          // An actions cell holds buttons that name themselves.
          if (td.tagName === "TD" && heads[i] && !td.dataset.label && !td.classList.contains("actions")) {
            bad.push(`cell under "${heads[i]}" in ${describe(table)} has no data-label`);
          }
        });
      }
    }
    return [...new Set(bad)];
  });
}

/// What makes the page scroll sideways or sticks out of its card, at the current width:
/// the document wider than the window, a region that scrolls sideways, or an element whose
/// right edge passes its card's (or the window's). Returns one line per culprit.
export async function overflow(page) {
  return page.evaluate(() => {
    const bad = [];
    const describe = (el) => {
      const cls = el.className && typeof el.className === "string" ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
      const text = (el.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 40);
      return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${cls}> "${text}"`;
    };
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
      bad.push(`the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px window`);
    }
    for (const el of document.querySelectorAll("body *")) {
      const style = getComputedStyle(el);
      if (style.display === "none" || style.visibility === "hidden" || el.closest(".visually-hidden, .skip")) continue;
      if (["auto", "scroll"].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
        bad.push(`${describe(el)} scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px)`);
      }
      const box = el.getBoundingClientRect();
      if (box.width === 0) continue;
      const card = el.parentElement?.closest(".card");
      const limit = card ? card.getBoundingClientRect().right : root.clientWidth;
      if (box.right > limit + 1) {
        bad.push(`${describe(el)} ends at ${Math.round(box.right)} px, past ${card ? "its card" : "the window"} (${Math.round(limit)} px)`);
      }
    }
    return [...new Set(bad)].slice(0, 20);
  });
}

/// Runs one flow: launches Chromium, hands the flow a toolkit, reports, sets the exit code.
export async function flow(body) {
  const base = env("LABGATE_URL").replace(/\/$/, "");
  const executablePath = env("LABGATE_CHROMIUM", "/usr/bin/chromium");
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  const watch = new Watch(base);
  let failed = 0;
  let passed = 0;
  const contexts = [];
  // Contexts with JavaScript off: axe-core cannot run there (its checks need the page's own
  // timers); the same states are checked with JavaScript on by the other flows.
  const scriptless = new WeakSet();

  const t = {
    base,
    watch,
    assert,

    /// A fresh browser profile (no cookies) under the watch. Options as Playwright's newContext.
    async context(options = {}) {
      const context = await browser.newContext({ baseURL: base, ...options });
      if (options.javaScriptEnabled === false) scriptless.add(context);
      context.setDefaultTimeout(10000);
      await watch.attach(context);
      contexts.push(context);
      return context;
    },

    /// A new page in a fresh context.
    async page(options = {}) {
      const context = await t.context(options);
      return context.newPage();
    },

    /// Opens `path` and checks the page answered 200 and passes the audit.
    async visit(page, path) {
      const resp = await page.goto(path);
      assert.equal(resp.status(), 200, `GET ${path}`);
      await t.audited(page);
      return resp;
    },

    /// Fails unless the page in its current state passes the audit and axe-core finds no
    /// serious or critical violation.
    async audited(page) {
      const bad = await audit(page);
      assert.deepEqual(bad, [], `accessibility audit of ${page.url()}`);
      if (scriptless.has(page.context())) return;
      const width = page.viewportSize()?.width;
      assert.deepEqual(await axe(page), [], `axe-core on ${page.url()} at ${width} px`);
    },

    /// Signs in through the login form and waits for the landing page.
    async login(page, username, password) {
      await t.visit(page, "/login");
      await page.getByLabel("Username").fill(username);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL((url) => url.pathname !== "/login");
      await t.audited(page);
    },

    /// Runs one named step; a failure is reported and ends the flow.
    async step(name, fn) {
      try {
        await fn();
        passed += 1;
        console.log(`ok - ${name}`);
      } catch (e) {
        failed += 1;
        console.log(`not ok - ${name}`);
        console.log(`# ${(e.stack ?? String(e)).split("\n").join("\n# ")}`);
        throw e;
      }
    },
  };

  try {
    await body(t);
  } catch (e) {
    if (!failed) {
      failed += 1;
      console.log(`not ok - flow stopped: ${e.stack ?? e}`);
    }
  } finally {
    for (const context of contexts) await context.close().catch(() => {});
    await browser.close().catch(() => {});
  }
  watch.finish();
  if (watch.problems.length) {
    failed += 1;
    console.log("not ok - every page stayed clean");
    for (const p of watch.problems) console.log(`#   ${p}`);
  } else if (!failed) {
    passed += 1;
    console.log("ok - every page stayed clean (no console or script errors, CSP violations, foreign requests, unexpected HTTP errors)");
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}
