// Changing one's password on /account: refused attempts say why, success signs out every
// other session and shows in the security log. Env: LABGATE_URL, LABGATE_USER,
// LABGATE_PASSWORD, LABGATE_NEW_PASSWORD.

import { env, flow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const newPassword = env("LABGATE_NEW_PASSWORD");

await flow(async (t) => {
  const { assert } = t;
  const page = await t.page();
  const elsewhere = await t.page();

  const fill = async (current, next, again) => {
    await page.getByLabel("Current password").fill(current);
    await page.getByLabel(/^New password \(/).fill(next);
    await page.getByLabel("New password again").fill(again);
    await page.getByRole("button", { name: "Change password" }).click();
  };

  await t.step("signed in twice, the account page shows the form and the log", async () => {
    await t.login(elsewhere, user, password);
    await t.login(page, user, password);
    await page.getByRole("link", { name: "Account" }).click();
    await page.waitForURL("**/account");
    await seeText(page.getByRole("heading", { level: 1 }), "Account");
    const hint = await seeText(page.locator("main"), "active now");
    const sessions = Number(hint.match(/(\d+) active now/)?.[1]);
    assert.ok(sessions >= 2, `both sessions counted: ${sessions}`);
    await seeText(page.locator("#log table"), "login succeeded");
    await t.audited(page);
  });

  await t.step("a wrong current password is refused with its reason", async () => {
    t.watch.expectStatus(422, "/account/password");
    await fill("not-my-password", newPassword, newPassword);
    await seeText(page.getByRole("alert"), "the current password is wrong");
    await t.audited(page);
  });

  await t.step("a confirmation that differs is refused with its reason", async () => {
    t.watch.expectStatus(422, "/account/password");
    await fill(password, newPassword, `${newPassword}x`);
    await seeText(page.getByRole("alert"), "the new password and its confirmation differ");
  });

  await t.step("the right answers change the password and say so", async () => {
    await fill(password, newPassword, newPassword);
    await page.waitForURL("**/account");
    await seeText(page.getByRole("status"), "Password changed. Every other session was signed out.");
    await seeText(page.locator("#log table"), "password changed");
    await seeText(page.locator("main"), "1 active now");
    await t.audited(page);
  });

  await t.step("the other session is signed out", async () => {
    await elsewhere.reload();
    assert.equal(new URL(elsewhere.url()).pathname, "/login");
  });

  await t.step("the old password no longer works and the new one does", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL("**/login");
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill(password);
    t.watch.expectStatus(401, "/login");
    await page.getByRole("button", { name: "Sign in" }).click();
    await seeText(page.getByRole("alert"), "Wrong username or password.");
    await page.getByLabel("Password").fill(newPassword);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/sshkeys");
  });
});
