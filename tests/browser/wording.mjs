// Wording (issue 14, point 9) and the public /USER.keys (point 11), at 1280 px and 390 px: a pasted fingerprint is recognised, a
// 70-character name is refused in words rather than cut by the field, command names show as
// code (no Markdown backticks), a stale field error goes once the field is emptied, the 404
// page says "not found" once, and a burst of toasts does not pile up over the content.
// Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD, LABGATE_KEY, LABGATE_FP (its fingerprint),
// LABGATE_DSA_KEY (a DSA public key, refused with a command to run instead).

import { env, flow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const key = env("LABGATE_KEY");
const fp = env("LABGATE_FP");
const dsa = env("LABGATE_DSA_KEY");

await flow(async (t) => {
  const { assert } = t;
  for (const width of [1280, 390]) {
    await t.step(`at ${width} px the SSH key form's refusals read plainly and clear when emptied`, async () => {
      const page = await t.page({ viewport: { width, height: 900 } });
      await t.login(page, user, password);
      await t.visit(page, "/sshkeys");
      const text = page.getByLabel("Key text");
      const submit = page.getByRole("button", { name: "submit", exact: true });

      t.watch.expectStatus(422, "/sshkeys");
      await text.fill(fp);
      await submit.click();
      await seeText(page.locator("#key-form"), "paste the .pub file, not its fingerprint");
      await t.audited(page);

      t.watch.expectStatus(422, "/sshkeys");
      await text.fill(dsa);
      await submit.click();
      await seeText(page.locator("#key-error"), "ssh-keygen -t ed25519");
      assert.ok(!(await page.locator("#key-error").innerText()).includes("`"), "no Markdown backticks");
      assert.ok((await page.locator("#key-error code").count()) >= 1, "the command shows as code");

      // Emptying the field takes the old message away with it.
      await text.fill("");
      assert.equal(await page.locator("#key-error").count(), 0, "the stale message is gone");
      assert.equal(await text.getAttribute("aria-invalid"), null);

      t.watch.expectStatus(422, "/sshkeys");
      await text.fill(key);
      const long = "n".repeat(70);
      await page.getByLabel("Name").fill(long);
      assert.equal(await page.getByLabel("Name").inputValue(), long, "the field keeps all 70 characters");
      await submit.click();
      await seeText(page.locator("#key-form"), "The name is 70 characters long; use at most 64.");

      // Point 11: the list says in words that /USER.keys is public, and a visitor reads it.
      await page.getByLabel("Name").fill(`key-${width}`);
      // Saved the first time; the second width's attempt is the same key again (refused).
      if (width !== 1280) t.watch.expectStatus(422, "/sshkeys");
      await submit.click();
      await seeText(page.locator("#keys-public"), "anyone, signed in or not, can read them");
      const visitor = await t.page({ viewport: { width, height: 900 } });
      const resp = await visitor.goto(`/${user}.keys`);
      assert.equal(resp.status(), 200);
      assert.match(await resp.text(), /^ssh-ed25519 /);
    });

    await t.step(`at ${width} px the 404 page says "not found" once, and toasts do not pile up`, async () => {
      const page = await t.page({ viewport: { width, height: 900 } });
      await t.login(page, user, password);
      t.watch.expectStatus(404, "/no-such-page");
      const resp = await page.goto("/no-such-page");
      assert.equal(resp.status(), 404);
      const main = (await page.locator("main").innerText()).toLowerCase();
      assert.equal(main.split("not found").length - 1, 1, main);
      await t.audited(page);

      await t.visit(page, "/sshkeys");
      await page.evaluate(() => {
        for (let i = 0; i < 6; i++) {
          document.body.dispatchEvent(new CustomEvent("toast", { bubbles: true, detail: { message: `note ${i}`, level: "ok" } }));
        }
      });
      await seeText(page.locator("#toasts"), "note 5");
      assert.ok((await page.locator("#toasts > *").count()) <= 3, "at most three toasts at once");
    });
  }
});
