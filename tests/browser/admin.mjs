// An admin adds a member on /admin/users, sees the generated password once, copies it,
// and the member signs in with it and must choose their own first; members cannot see the
// admin pages. Env: LABGATE_URL, LABGATE_ADMIN_PASSWORD (of the first admin, `admin`).

import { env, flow, seeText } from "./lib.mjs";

const adminPassword = env("LABGATE_ADMIN_PASSWORD");

await flow(async (t) => {
  const { assert } = t;
  const context = await t.context();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: t.base });
  const page = await context.newPage();
  let password;

  await t.step("the admin reaches the users page from the menu", async () => {
    await t.login(page, "admin", adminPassword);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
    await page.waitForURL("**/admin/users");
    const tabs = page.getByRole("navigation", { name: "Admin sections" });
    assert.equal(await tabs.getByRole("link", { name: "Users" }).getAttribute("aria-current"), "page");
    await seeText(page.getByRole("table"), "admin");
    await t.audited(page);
  });

  await t.step("every admin section opens cleanly from its tab", async () => {
    const tabs = page.getByRole("navigation", { name: "Admin sections" });
    const names = await tabs.getByRole("link").allInnerTexts();
    assert.deepEqual(names, ["Users", "Groups", "Robots", "Bookings", "Limits"]);
    for (const name of [...names.slice(1), names[0]]) {
      await tabs.getByRole("link", { name, exact: true }).click();
      await page.waitForLoadState();
      assert.equal(await tabs.getByRole("link", { name, exact: true }).getAttribute("aria-current"), "page", name);
      await t.audited(page);
    }
    assert.equal(new URL(page.url()).pathname, "/admin/users");
  });

  await t.step("adding a user shows the generated password once", async () => {
    await page.getByLabel("Username").fill("bob");
    await page.getByRole("button", { name: "Add user" }).click();
    const notice = page.getByRole("status").filter({ hasText: "Password for bob" });
    await seeText(notice, "It is shown only now.");
    password = (await page.locator("#new-password").innerText()).trim();
    assert.ok(password.length >= 16, `a long password: ${password.length} characters`);
    const row = page.getByRole("row").filter({ hasText: "bob" });
    await seeText(row, "member");
    await seeText(row, "active");
    await t.audited(page);
  });

  await t.step("the copy button puts the password on the clipboard", async () => {
    await page.getByRole("button", { name: "Copy" }).click();
    await seeText(page.locator("#toasts"), "Copied to the clipboard.");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), password);
  });

  await t.step("a taken username is refused and kept in the field", async () => {
    await page.goto("/admin/users");
    assert.equal(await page.locator("#new-password").count(), 0, "the password is not shown again");
    await page.getByLabel("Username").fill("bob");
    t.watch.expectStatus(422, "/admin/users");
    await page.getByRole("button", { name: "Add user" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /bob/);
    assert.equal(await page.getByLabel("Username").inputValue(), "bob");
    await t.audited(page);
  });

  const member = await t.page();

  await t.step("the new member signs in with that password and has no admin pages", async () => {
    await t.login(member, "bob", password);
    // A password an admin set must be changed at the first sign-in.
    assert.equal(new URL(member.url()).pathname, "/account");
    await seeText(member.locator(".flash"), "An admin set your password: choose your own before going on.");
    const own = `${password}-bob-chose-this`;
    await member.getByLabel("Current password").fill(password);
    await member.getByLabel("New password", { exact: false }).first().fill(own);
    await member.getByLabel("New password again").fill(own);
    await member.getByRole("button", { name: "Change password" }).click();
    await seeText(member.locator(".flash"), "Password changed");
    await t.visit(member, "/sshkeys");
    assert.equal(new URL(member.url()).pathname, "/sshkeys");
    const nav = member.getByRole("navigation", { name: "Main" });
    assert.equal(await nav.getByRole("link", { name: "Admin" }).count(), 0);
    t.watch.expectStatus(404, "/admin/users");
    const resp = await member.goto("/admin/users");
    assert.equal(resp.status(), 404);
  });

  await t.step("disabling the member ends their session at once", async () => {
    await page.goto("/admin/users");
    // The confirmation says what disabling ends (tests/browser/confirm.mjs checks its words).
    page.once("dialog", (d) => d.accept());
    await page.getByRole("row").filter({ hasText: "bob" }).getByRole("button", { name: "Disable" }).click();
    await seeText(page.getByRole("status"), "bob is disabled.");
    await seeText(page.getByRole("row").filter({ hasText: "bob" }), "disabled");
    await member.goto("/sshkeys");
    assert.equal(new URL(member.url()).pathname, "/login");
  });
});
