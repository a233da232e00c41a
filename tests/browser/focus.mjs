// Focus after htmx actions and the live region (issue 14, point 2; WCAG 2.4.3, 4.1.3): after
// adding, refusing, deleting, making, revoking, starting and terminating, focus is on
// something useful (the new row, the refused field, the next row, the row acted on), never on
// <body>, the next Tab goes on from there, and the outcome is in the polite live region.
// At 1280 px and 390 px. Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD, LABGATE_KEY1,
// LABGATE_KEY2, LABGATE_ROBOT, LABGATE_ROBOT2 (option texts).

import { env, flow, seeText, settled, until } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const keys = [env("LABGATE_KEY1"), env("LABGATE_KEY2")];
const robots = [env("LABGATE_ROBOT"), env("LABGATE_ROBOT2")];

/// The focused element as `<tag#id>`, or "body".
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return "body";
    return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}>`;
  });
}

await flow(async (t) => {
  const { assert } = t;

  /// Waits for htmx to settle and for focus to land; returns where it landed.
  async function landed(page) {
    await settled(page);
    return until(async () => {
      const f = await focused(page);
      return f === "body" ? false : f;
    }, "focus to land somewhere useful");
  }

  /// The next Tab moves to a control on the page, not off into nowhere.
  async function tabGoesOn(page) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    assert.notEqual(f, "body", "the next Tab reaches a control");
  }

  async function toastSays(page, text) {
    assert.equal(await page.locator("#toasts").getAttribute("aria-live"), "polite");
    await seeText(page.locator("#toasts"), text);
  }

  for (const [width, robot, suffix] of [[1280, robots[0], "a"], [390, robots[1], "b"]]) {
    await t.step(`at ${width} px: SSH keys add, refuse and delete leave focus somewhere useful`, async () => {
      const page = await t.page({ viewport: { width, height: 900 } });
      await t.login(page, user, password);
      await t.visit(page, "/sshkeys");
      const submit = page.getByRole("button", { name: "submit", exact: true });

      await page.getByLabel("Key text").fill(keys[0]);
      await page.getByLabel("Name").fill(`one-${suffix}`);
      await submit.click();
      const first = await page.getByRole("row").filter({ hasText: `one-${suffix}` }).getAttribute("id");
      assert.equal(await landed(page), `<tr#${first}>`, "focus on the new row");
      await toastSays(page, `one-${suffix}`);
      await tabGoesOn(page);

      t.watch.expectStatus(422, "/sshkeys");
      await page.getByLabel("Key text").fill("ssh-ed25519 not-base64!");
      await submit.click();
      assert.equal(await landed(page), "<textarea#key-text>", "focus on the refused field");

      await page.getByLabel("Key text").fill(keys[1]);
      await page.getByLabel("Name").fill(`two-${suffix}`);
      await submit.click();
      const second = await page.getByRole("row").filter({ hasText: `two-${suffix}` }).getAttribute("id");
      assert.equal(await landed(page), `<tr#${second}>`);

      // Newest first: deleting the second key leaves focus on the row after it.
      page.once("dialog", (d) => d.accept());
      await page.locator(`#${second}`).getByRole("button", { name: /Delete/ }).click();
      await until(async () => (await page.locator(`#${second}`).count()) === 0, "the row to go");
      assert.equal(await landed(page), `<tr#${first}>`, "focus on the next row");
      await tabGoesOn(page);

      page.once("dialog", (d) => d.accept());
      await page.locator(`#${first}`).getByRole("button", { name: /Delete/ }).click();
      await until(async () => (await page.locator(`#${first}`).count()) === 0, "the row to go");
      await landed(page);
      await tabGoesOn(page);
      await t.audited(page);
    });

    await t.step(`at ${width} px: making and revoking a token leave focus somewhere useful`, async () => {
      const page = await t.page({ viewport: { width, height: 900 } });
      await t.login(page, user, password);
      await t.visit(page, "/tokens");
      await page.getByRole("button", { name: "make API token" }).click();
      await landed(page);
      await toastSays(page, "API token made");
      await tabGoesOn(page);
      page.once("dialog", (d) => d.accept());
      await page.getByRole("button", { name: /^revoke/ }).first().click();
      await until(async () => (await page.getByRole("button", { name: /^revoke/ }).count()) === 0, "the token to go");
      await landed(page);
      await toastSays(page, "Revoked");
      await tabGoesOn(page);
    });

    await t.step(`at ${width} px: starting and terminating an instance leave focus on its row`, async () => {
      const page = await t.page({ viewport: { width, height: 900 } });
      await t.login(page, user, password);
      await t.visit(page, "/instances");
      const select = page.getByLabel("Robot", { exact: true });
      await select.selectOption(await select.locator("option", { hasText: robot }).getAttribute("value"));
      await page.getByLabel("Or paste a public key").fill(keys[0]);
      await page.getByRole("button", { name: "Start instance" }).click();
      const row = page.locator("tbody tr").filter({ has: page.getByRole("button", { name: "Terminate" }) }).first();
      await row.waitFor();
      const id = await row.getAttribute("id");
      assert.equal(await landed(page), `<tr#${id}>`, "focus on the new instance");
      await toastSays(page, "Instance started");
      page.once("dialog", (d) => d.accept());
      await row.getByRole("button", { name: "Terminate" }).click();
      await until(async () => (await page.locator(`#${id}`).getByRole("button", { name: "Terminate" }).count()) === 0, "the instance to end");
      assert.equal(await landed(page), `<tr#${id}>`, "focus stays on the ended instance's row");
      await toastSays(page, "terminated");
      await tabGoesOn(page);
      await t.audited(page);
    });
  }
});
