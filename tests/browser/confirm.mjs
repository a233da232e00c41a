// Confirmations and reasons (issue 14, point 4). Admin actions that end someone's work say
// so ("this ends ada's instance on ur5e"); the member whose instance an admin ended sees why
// on the row itself; without JavaScript "Delete", "revoke" and "Terminate" ask on a small
// page of their own, and no copy button shows that could do nothing. At 1280 px and 390 px.
// Env: LABGATE_URL, LABGATE_ADMIN_PASSWORD, LABGATE_USER, LABGATE_PASSWORD, LABGATE_KEY,
// LABGATE_ROBOT (option text), LABGATE_ROBOT2 (option text of a second robot).

import { env, flow, seeText, until } from "./lib.mjs";

const adminPassword = env("LABGATE_ADMIN_PASSWORD");
const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const key = env("LABGATE_KEY");
const robot = env("LABGATE_ROBOT");
const robot2 = env("LABGATE_ROBOT2");

await flow(async (t) => {
  const { assert } = t;

  /// Books `option` with the saved key "laptop" on `page`.
  async function book(page, option) {
    await t.visit(page, "/instances");
    const select = page.getByLabel("Robot", { exact: true });
    await select.selectOption(await select.locator("option", { hasText: option }).getAttribute("value"));
    await page.getByRole("checkbox", { name: "laptop" }).check();
    await page.getByRole("button", { name: "Start instance" }).click();
    await page.waitForURL("**/instances");
    await page.getByRole("button", { name: "Terminate" }).first().waitFor();
  }

  await t.step("without JavaScript at 390 px: the key, a token and an instance; no copy button shows", async () => {
    const page = await t.page({ javaScriptEnabled: false, viewport: { width: 390, height: 900 } });
    await t.login(page, user, password);
    await t.visit(page, "/sshkeys");
    await page.getByLabel("Key text").fill(key);
    await page.getByLabel("Name").fill("laptop");
    await page.getByRole("button", { name: "submit", exact: true }).click();
    await page.waitForURL("**/sshkeys");
    await t.visit(page, "/tokens");
    await page.getByRole("button", { name: "make API token" }).click();
    await page.waitForURL("**/tokens/*");
    assert.equal(await page.getByRole("button", { name: /^copy/i }).count(), 0, "no copy button for the token");
    await book(page, robot);
    assert.equal(await page.getByRole("button", { name: /^copy/i }).count(), 0, "no copy button for the ssh line");
    await t.audited(page);
  });

  await t.step("without JavaScript: revoke and terminate ask on a page that names the effect; going back keeps them", async () => {
    const page = await t.page({ javaScriptEnabled: false, viewport: { width: 390, height: 900 } });
    await t.login(page, user, password);
    await t.visit(page, "/tokens");
    await page.getByRole("button", { name: /^revoke/ }).first().click();
    await page.waitForURL((u) => u.pathname.endsWith("/revoke"));
    await t.audited(page);
    await seeText(page.getByRole("heading", { level: 1 }), "Revoke the token");
    await seeText(page.locator("main"), "stops working at once");
    await page.getByRole("link", { name: "Go back" }).click();
    await page.waitForURL("**/tokens");
    assert.equal(await page.getByRole("button", { name: /^revoke/ }).count(), 1, "still there");
    await page.getByRole("button", { name: /^revoke/ }).first().click();
    await page.getByRole("button", { name: "revoke", exact: true }).click();
    await page.waitForURL("**/tokens");
    assert.equal(await page.getByRole("button", { name: /^revoke/ }).count(), 0, "revoked");

    await t.visit(page, "/instances");
    await page.getByRole("button", { name: "Terminate" }).first().click();
    await page.waitForURL((u) => u.pathname.endsWith("/terminate"));
    await t.audited(page);
    await seeText(page.getByRole("heading", { level: 1 }), "Terminate your instance on ur5e?");
    await page.getByRole("link", { name: "Go back" }).click();
    await page.waitForURL("**/instances");
    assert.equal(await page.getByRole("button", { name: "Terminate" }).count(), 1, "still running");
  });

  for (const width of [1280, 390]) {
    await t.step(`at ${width} px the admin's disable and reset confirmations name what they end`, async () => {
      const page = await t.page({ viewport: { width, height: 900 } });
      await t.login(page, "admin", adminPassword);
      await t.visit(page, "/admin/users");
      const row = page.getByRole("row").filter({ hasText: user });
      let asked = "";
      page.once("dialog", (d) => { asked = d.message(); d.dismiss(); });
      await row.getByRole("button", { name: "Disable" }).click();
      await until(() => asked, "the confirmation");
      assert.equal(asked, `Disable ${user}? ${user} is signed out at once, and their tokens and keys stop working; this ends ${user}'s instance on ur5e.`);
      asked = "";
      page.once("dialog", (d) => { asked = d.message(); d.dismiss(); });
      await row.getByRole("button", { name: "Reset password" }).click();
      await until(() => asked, "the confirmation");
      assert.match(asked, new RegExp(`^Reset ${user}'s password\\? Their current password stops working`));
      await page.waitForTimeout(200);
      assert.equal(new URL(page.url()).pathname, "/admin/users", "nothing was sent");
    });
  }

  await t.step("disabling the robot says it ends the member's instance, and the member sees why on the row", async () => {
    const page = await t.page({ viewport: { width: 1280, height: 900 } });
    await t.login(page, "admin", adminPassword);
    await t.visit(page, "/admin/deployments");
    const row = page.getByRole("row").filter({ hasText: robot.split(": ")[1] });
    let asked = "";
    page.once("dialog", (d) => { asked = d.message(); d.accept(); });
    await row.getByRole("button", { name: "Disable" }).click();
    await until(() => asked, "the confirmation");
    assert.match(asked, new RegExp(`this ends ${user}'s instance on ur5e at once\\.$`));
    await seeText(row, "disabled");

    const member = await t.page({ viewport: { width: 390, height: 900 } });
    await t.login(member, user, password);
    await t.visit(member, "/instances");
    const ended = member.locator("tbody tr").filter({ hasText: robot.split(": ")[1] }).first();
    await seeText(ended, "ended by an admin: the robot was taken out of service");
  });

  await t.step("with JavaScript the same buttons still ask in a dialog and act in place", async () => {
    const page = await t.page({ viewport: { width: 1280, height: 900 } });
    await t.login(page, user, password);
    await book(page, robot2);
    await page.evaluate(() => { window.__marker = 1; });
    await page.getByRole("button", { name: /copy/i }).first().waitFor();
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Terminate" }).first().click();
    await until(async () => (await page.getByRole("button", { name: "Terminate" }).count()) === 0, "the instance to end");
    assert.equal(await page.evaluate(() => window.__marker), 1, "the page did not reload");
  });
});
