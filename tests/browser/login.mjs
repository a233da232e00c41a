// Signing in and out as a person does: with the mouse, with a wrong password, and with the
// keyboard alone. Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD.

import { env, flow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");

await flow(async (t) => {
  const { assert } = t;
  const page = await t.page();

  await t.step("a visitor asking for a page is sent to the sign-in form", async () => {
    await page.goto("/sshkeys");
    assert.equal(new URL(page.url()).pathname, "/login");
    await t.audited(page);
    await seeText(page.getByRole("heading", { level: 1 }), "Sign in to labgate");
  });

  await t.step("a wrong password says so and keeps the username", async () => {
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill("not-the-password");
    t.watch.expectStatus(401, "/login");
    await page.getByRole("button", { name: "Sign in" }).click();
    await seeText(page.getByRole("alert"), "Wrong username or password.");
    assert.equal(new URL(page.url()).pathname, "/login");
    assert.equal(await page.getByLabel("Username").inputValue(), user);
    assert.equal(await page.getByLabel("Password").inputValue(), "");
    assert.equal(await page.evaluate(() => document.activeElement.id), "password", "focus waits in the password field");
    await t.audited(page);
  });

  await t.step("the right password signs in and lands on the SSH keys", async () => {
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/sshkeys");
    await seeText(page.getByRole("heading", { level: 1 }), "SSH keys");
    await seeText(page.locator("header"), user);
    assert.equal(await page.getByRole("link", { name: "SSH keys" }).getAttribute("aria-current"), "page");
    await t.audited(page);
  });

  await t.step("every page in the main menu opens cleanly", async () => {
    const nav = page.getByRole("navigation", { name: "Main" });
    const names = await nav.getByRole("link").allInnerTexts();
    assert.ok(names.includes("SSH keys") && names.includes("Account"), `menu: ${names}`);
    assert.ok(!names.includes("Admin"), "a member sees no Admin link");
    for (const name of names) {
      await nav.getByRole("link", { name, exact: true }).click();
      await page.waitForLoadState();
      assert.equal(await nav.getByRole("link", { name, exact: true }).getAttribute("aria-current"), "page", name);
      await t.audited(page);
    }
  });

  await t.step("logging out ends the session", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL("**/login");
    await seeText(page.getByRole("status"), "You are signed out.");
    await page.goto("/account");
    assert.equal(new URL(page.url()).pathname, "/login");
  });

  await t.step("the keyboard alone can sign in", async () => {
    const kb = await t.page();
    await t.visit(kb, "/login");
    const focused = () => kb.evaluate(() => {
      const el = document.activeElement;
      return el.labels?.[0]?.textContent.trim() ?? el.textContent.trim();
    });
    assert.equal(await focused(), "Username", "the username field has focus on arrival");
    await kb.keyboard.type(user);
    await kb.keyboard.press("Tab");
    assert.equal(await focused(), "Password");
    await kb.keyboard.type(password);
    await kb.keyboard.press("Tab");
    assert.equal(await focused(), "Sign in");
    await kb.keyboard.press("Enter");
    await kb.waitForURL("**/sshkeys");

    // The first Tab on a signed-in page reaches the skip link, which shows itself and
    // jumps past the menu.
    await kb.keyboard.press("Tab");
    assert.equal(await focused(), "Skip to content");
    const box = await kb.getByRole("link", { name: "Skip to content" }).boundingBox();
    assert.ok(box && box.x >= 0 && box.y >= 0 && box.width > 20, `skip link on screen: ${JSON.stringify(box)}`);
    await kb.keyboard.press("Enter");
    assert.equal(new URL(kb.url()).hash, "#main");
  });
});
