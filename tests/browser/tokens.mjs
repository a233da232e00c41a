// The API tokens page: make a 24-hour token, see it in the "token" panel, download jwt.txt,
// use it against the API from outside the browser, make a second one (its row goes in at the
// top), then revoke the first (after a confirmation) and watch the API refuse
// it. Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD.

import { readFile } from "node:fs/promises";
import { env, flow, seeText, until } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");

await flow(async (t) => {
  const { assert } = t;
  const context = await t.context({ acceptDownloads: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: t.base });
  const page = await context.newPage();
  const rows = page.locator("tbody tr");
  const rowOf = (text) => page.getByRole("row").filter({ hasText: text });
  const panel = page.getByRole("region", { name: "token", exact: true });
  const api = (path, token) =>
    fetch(`${t.base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  let text;

  await t.step("a new member has no tokens and a form defaulting to 24 hours, rw", async () => {
    await t.login(page, user, password);
    await t.visit(page, "/tokens");
    assert.equal(await rows.count(), 0);
    const duration = page.getByLabel("Duration");
    assert.equal(await duration.inputValue(), "86400");
    const choices = await duration.locator("option").allInnerTexts();
    assert.deepEqual(choices.map((c) => c.trim()), ["1 hour", "24 hours", "7 days", "30 days", "90 days", "1 year"]);
    assert.ok(await page.getByRole("radio", { name: /^rw/ }).isChecked());
  });

  await t.step("making a token adds its row and opens the token panel", async () => {
    await page.evaluate(() => { window.__marker = 1; });
    await page.getByLabel("Note").fill("nightly build");
    await page.getByRole("button", { name: "make API token" }).click();
    await seeText(rowOf("nightly build"), "rw");
    await seeText(panel, "nightly build");
    text = (await panel.getByLabel("Token text").inputValue()).trim();
    assert.match(text, /^[\w-]+\.[\w-]+\.[\w-]+$/, "a JWT");
    const claims = JSON.parse(Buffer.from(text.split(".")[1], "base64url").toString());
    assert.equal(claims.sub, user);
    assert.equal(claims.sc, "rw");
    assert.ok(Math.abs(claims.exp - claims.iat - 86400) <= 1, `24 h: ${claims.exp - claims.iat}`);
    assert.equal(await page.evaluate(() => window.__marker), 1, "the page did not reload");
    assert.equal(await rows.count(), 1);
    await t.audited(page);
  });

  await t.step("download saves jwt.txt with exactly the panel's text", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      panel.getByRole("link", { name: "download" }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "jwt.txt");
    const saved = await readFile(await download.path(), "utf8");
    assert.equal(saved, text, "no trailing newline, same token");
  });

  await t.step("copy puts the token on the clipboard", async () => {
    await panel.getByRole("button", { name: "copy" }).click();
    await until(async () => (await page.evaluate(() => navigator.clipboard.readText())) === text, "the clipboard");
  });

  await t.step("the token works against the API", async () => {
    const resp = await api("/api/sshkeys", text);
    assert.equal(resp.status, 200);
    assert.ok(Array.isArray(await resp.json()));
  });

  await t.step("a second token goes in at the top, selected, and takes the panel", async () => {
    await page.getByLabel("Note").fill("deploy script");
    await page.getByRole("button", { name: "make API token" }).click();
    await seeText(panel, "deploy script");
    assert.equal(await rows.count(), 2);
    assert.match(await rows.first().innerText(), /deploy script/);
    const selected = page.locator("tbody tr.selected");
    assert.equal(await selected.count(), 1, "only the new row is highlighted");
    assert.match(await selected.innerText(), /deploy script/);
    const second = (await panel.getByLabel("Token text").inputValue()).trim();
    assert.notEqual(second, text);
    assert.equal((await api("/api/sshkeys", second)).status, 200);
    assert.equal(await page.getByLabel("Note").inputValue(), "", "a fresh form");
    assert.equal(await page.evaluate(() => window.__marker), 1, "the page did not reload");
    await t.audited(page);
  });

  await t.step("a click on the row opens the panel again after a reload", async () => {
    await t.visit(page, "/tokens");
    assert.equal(await panel.count(), 0, "no token on the page until asked");
    await rowOf("nightly build").locator("td").first().click();
    await until(async () => (await panel.getByLabel("Token text").inputValue()).trim() === text, "the panel");
  });

  await t.step("revoke asks first: dismiss keeps the token, accept revokes it", async () => {
    const row = rowOf("nightly build");
    let asked = "";
    page.once("dialog", (d) => { asked = d.message(); d.dismiss(); });
    await row.getByRole("button", { name: /revoke/i }).click();
    await until(() => asked, "the confirmation dialog");
    await page.waitForTimeout(300);
    assert.equal(await row.count(), 1);
    assert.equal((await api("/api/sshkeys", text)).status, 200, "still valid after dismiss");

    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: /revoke/i }).click();
    await until(async () => (await row.count()) === 0, "the row to go");
    await until(async () => (await panel.count()) === 0, "the panel to close");
  });

  await t.step("the revoked token gets 401 from the API at once", async () => {
    const resp = await api("/api/sshkeys", text);
    assert.equal(resp.status, 401);
    assert.equal((await resp.json()).error_message, "wrong authorization token");
    await t.visit(page, "/tokens");
    assert.equal(await rows.count(), 1, "the second token is left");
    await seeText(rows.first(), "deploy script");
  });
});
