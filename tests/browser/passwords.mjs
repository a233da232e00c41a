// Passwords (issue 14, point 6): until the first admin's generated password is changed a
// banner says so and every other page sends the admin to the Account page to change it
// (1280 px and 390 px); a guessable new password and one equal to the current
// are refused with the reason; after the change the banner and the sign-in page's "First
// start?" hint are gone. Env: LABGATE_URL, LABGATE_ADMIN_PASSWORD.

import { env, flow, seeText } from "./lib.mjs";

const current = env("LABGATE_ADMIN_PASSWORD");
const fresh = "a-brand-new-password-2";

await flow(async (t) => {
  const { assert } = t;
  const page = await t.page({ viewport: { width: 390, height: 900 } });

  await t.step("the sign-in page hints at the first start, and every admin page has the banner", async () => {
    await t.visit(page, "/login");
    await seeText(page.locator("main"), "First start?");
    await t.login(page, "admin", current);
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      // A password an admin set (here the generated one) must be changed before any other
      // page: the keys page sends the admin to the Account page with the reason.
      await t.visit(page, "/sshkeys");
      assert.equal(new URL(page.url()).pathname, "/account", "sent to choose a password first");
      await seeText(page.locator(".flash"), "An admin set your password: choose your own before going on.");
      await seeText(page.locator("#initial-password-banner"), "still the generated one");
    }
  });

  async function tryChange(newPassword, refusal) {
    await t.visit(page, "/account");
    await page.getByLabel("Current password").fill(current);
    await page.getByLabel("New password", { exact: false }).first().fill(newPassword);
    await page.getByLabel("New password again").fill(newPassword);
    if (refusal) t.watch.expectStatus(422, "/account/password");
    await page.getByRole("button", { name: "Change password" }).click();
    if (refusal) await seeText(page.getByRole("alert"), refusal);
  }

  await t.step("a guessable password and the current one are refused with the reason", async () => {
    await tryChange("password1234", "this password is too easy to guess");
    await t.audited(page);
    await tryChange(current, "the new password is the same as the current one");
    await seeText(page.locator("#log"), "password change refused");
  });

  await t.step("after the change the banner and the hint are gone", async () => {
    await tryChange(fresh, null);
    await page.waitForURL("**/account");
    await seeText(page.getByRole("status").first(), "Password changed");
    assert.equal(await page.locator("#initial-password-banner").count(), 0);
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await t.visit(page, "/sshkeys");
      assert.equal(new URL(page.url()).pathname, "/sshkeys", "every page open after the change");
    }
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL("**/login");
    assert.ok(!(await page.locator("main").innerText()).includes("First start?"));
  });
});
