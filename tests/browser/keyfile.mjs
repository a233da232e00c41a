// The one-time private key (issue 14, point 1): after "download private key (once)" the row
// says at once that the key was downloaded (no button, no "only once" warning, no reload), and
// a second attempt from a page left open explains itself on the Instances page, with
// JavaScript and without; at 1280 px and at 390 px. Env: LABGATE_URL, LABGATE_USER,
// LABGATE_PASSWORD, LABGATE_ROBOT (option text of one robot), LABGATE_ROBOT2, LABGATE_ROBOT3 (of two more).

import { readFile } from "node:fs/promises";
import { env, flow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const robots = [env("LABGATE_ROBOT"), env("LABGATE_ROBOT2"), env("LABGATE_ROBOT3")];
const DOWNLOAD = "download private key (once)";

await flow(async (t) => {
  const { assert } = t;

  /// Books `robot` with a generated key pair and returns the new instance's row.
  async function book(page, robot) {
    await t.visit(page, "/instances");
    const value = await page.getByLabel("Robot", { exact: true }).locator("option", { hasText: robot }).getAttribute("value");
    await page.getByLabel("Robot", { exact: true }).selectOption(value);
    await page.getByRole("checkbox", { name: /Generate a new key pair/ }).check();
    // Without JavaScript the post answers once the pair is made: a debug build on busy cores
    // may take well over the default 10 s for an RSA key pair.
    await page.getByRole("button", { name: "Start instance" }).click({ timeout: 60000 });
    await page.waitForURL("**/instances", { timeout: 60000 });
    const row = page.locator("tbody tr").filter({ hasText: robot.split(": ")[1] }).filter({ has: page.getByRole("button", { name: DOWNLOAD }) });
    // A debug build may take a while to make an RSA key pair.
    await row.waitFor({ timeout: 60000 });
    return row;
  }

  for (const [width, robot] of [[1280, robots[0]], [390, robots[1]]]) {
    await t.step(`at ${width} px with JavaScript: the row says at once that the key was downloaded`, async () => {
      const context = await t.context({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      await t.login(page, user, password);
      const row = await book(page, robot);
      const id = await row.getAttribute("id");
      await seeText(row, "only once");
      // A second tab keeps the page as it was before the download.
      const stale = await context.newPage();
      await t.visit(stale, "/instances");
      await page.evaluate(() => { window.__marker = 1; });

      const [download] = await Promise.all([
        page.waitForEvent("download"),
        row.getByRole("button", { name: DOWNLOAD }).click(),
      ]);
      assert.equal(download.suggestedFilename(), "key.pem");
      const pem = await readFile(await download.path(), "utf8");
      assert.match(pem, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
      const same = page.locator(`#${id}`);
      await seeText(same, "Private key already downloaded");
      assert.equal(await same.getByRole("button", { name: DOWNLOAD }).count(), 0, "no second button");
      assert.ok(!(await same.innerText()).includes("only once"), "the warning went with the button");
      assert.equal(await page.evaluate(() => window.__marker), 1, "the page did not reload");
      await t.audited(page);

      // The stale tab still offers the button: using it explains, on the Instances page.
      await stale.locator(`#${id}`).getByRole("button", { name: DOWNLOAD }).click();
      await seeText(stale.locator("#toasts"), "already downloaded");
      await seeText(stale.locator(`#${id}`), "Private key already downloaded");
      assert.equal(new URL(stale.url()).pathname, "/instances");
      await t.audited(stale);
      await context.close();
    });
  }

  await t.step("without JavaScript: the download, then a stale second attempt explained on the Instances page", async () => {
    const context = await t.context({ javaScriptEnabled: false, viewport: { width: 390, height: 900 } });
    const page = await context.newPage();
    await t.login(page, user, password);
    const row = await book(page, robots[2]);
    const id = await row.getAttribute("id");
    const stale = await context.newPage();
    await t.visit(stale, "/instances");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("button", { name: DOWNLOAD }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "key.pem");
    await t.visit(page, "/instances");
    await seeText(page.locator(`#${id}`), "Private key already downloaded");
    await stale.locator(`#${id}`).getByRole("button", { name: DOWNLOAD }).click();
    await stale.waitForURL("**/instances");
    await seeText(stale.locator("main"), "was already downloaded; labgate keeps no copy");
    await t.audited(stale);
  });
});
