// The SSH keys page with JavaScript off: every action is a plain form post answered with a
// redirect back (or the form again, for refused input). Env: LABGATE_URL, LABGATE_USER,
// LABGATE_PASSWORD, LABGATE_KEY1 / LABGATE_KEY1_FP.

import { env, flow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const key1 = env("LABGATE_KEY1");
const fp1 = env("LABGATE_KEY1_FP");
// A real key under the wrong type label: refused, and the text comes back for correcting.
const mislabelled = key1.replace(/^ssh-ed25519 /, "ssh-rsa ");

await flow(async (t) => {
  const { assert } = t;
  const page = await t.page({ javaScriptEnabled: false });
  const rows = page.locator("tbody tr");
  const rowOf = (text) => page.getByRole("row").filter({ hasText: text });

  await t.step("without JavaScript the page still signs in and shows the form", async () => {
    await t.login(page, user, password);
    assert.equal(await page.evaluate(() => typeof window.htmx), "undefined", "the page's scripts did not run");
    await t.visit(page, "/sshkeys");
    await seeText(page.locator("main"), "No SSH keys yet");
  });

  await t.step("a refused key comes back as the form with the text kept and the reason", async () => {
    await page.getByLabel("Key text").fill(mislabelled);
    await page.getByLabel("Name").fill("oops");
    t.watch.expectStatus(422, "/sshkeys");
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.getByRole("button", { name: "submit", exact: true }).click(),
    ]);
    assert.equal(resp.status(), 422);
    await page.waitForLoadState();
    await seeText(page.locator("#key-form"), "ssh-rsa");
    assert.equal(await page.getByLabel("Key text").inputValue(), mislabelled);
    assert.equal(await page.getByLabel("Name").inputValue(), "oops");
    await t.audited(page);
  });

  await t.step("a good key is added by a plain post and shows after the redirect", async () => {
    await page.getByLabel("Key text").fill(key1);
    await page.getByLabel("Name").fill("desktop");
    await page.getByRole("button", { name: "submit", exact: true }).click();
    await page.waitForURL("**/sshkeys");
    await seeText(rowOf("desktop"), fp1);
    assert.equal(await rows.count(), 1);
    await seeText(page.getByRole("status").first(), "desktop");
    await t.audited(page);
  });

  await t.step("delete asks on a page of its own, then is a plain post", async () => {
    await rowOf("desktop").getByRole("button", { name: /delete/i }).click();
    await page.waitForURL((u) => /^\/sshkeys\/\d+\/delete$/.test(u.pathname));
    await t.audited(page);
    await seeText(page.getByRole("heading", { level: 1 }), "Delete the SSH key desktop?");
    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL("**/sshkeys");
    await seeText(page.locator("main"), "No SSH keys yet");
    assert.equal(await rows.count(), 0);
  });
});
