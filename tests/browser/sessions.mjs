// Sessions (issue 14, point 5), at 1280 px and 390 px: the Account page lists the active
// sessions (browser, address, started, last seen) and ends one; the ended browser's next htmx
// action goes to sign in with "your session ended; sign in again" and, once signed in, back
// to the page it was on. Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD, LABGATE_KEY.

import { env, flow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const key = env("LABGATE_KEY");

await flow(async (t) => {
  const { assert } = t;
  for (const width of [1280, 390]) {
    await t.step(`at ${width} px one browser ends the other, which finds its way back`, async () => {
      const laptop = await t.page({ viewport: { width, height: 900 } });
      const phone = await t.page({ viewport: { width, height: 900 } });
      await t.login(laptop, user, password);
      await t.login(phone, user, password);
      await t.visit(phone, "/sshkeys");
      await phone.getByLabel("Key text").fill(key);
      await phone.getByLabel("Name").fill(`key-${width}`);

      await t.visit(laptop, "/account");
      const rows = laptop.locator("#sessions tbody tr");
      assert.ok((await rows.count()) >= 2, "both sessions listed");
      await seeText(laptop.locator("#sessions"), "this browser");
      await seeText(rows.first(), "Chrome on Linux");
      laptop.once("dialog", (d) => d.accept());
      await laptop.getByRole("button", { name: "End all other sessions" }).click();
      await laptop.waitForURL("**/account#sessions");
      await seeText(laptop.locator("main"), "other session");
      assert.equal(await laptop.locator("#sessions tbody tr").count(), 1);
      await t.audited(laptop);

      // The phone's htmx action meets the ended session: 401, with HX-Redirect to sign in.
      t.watch.expectStatus(401, "/sshkeys");
      await phone.getByRole("button", { name: "submit", exact: true }).click();
      await phone.waitForURL((u) => u.pathname === "/login");
      assert.equal(new URL(phone.url()).searchParams.get("next"), "/sshkeys");
      await seeText(phone.getByRole("status").first(), "Your session ended; sign in again.");
      await t.audited(phone);
      await phone.getByLabel("Username").fill(user);
      await phone.getByLabel("Password").fill(password);
      await phone.getByRole("button", { name: "Sign in" }).click();
      await phone.waitForURL((u) => u.pathname === "/sshkeys");
    });
  }
});
