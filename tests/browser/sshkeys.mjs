// The SSH keys page with JavaScript on (htmx): adding a key shows its row without a reload,
// a bad key keeps the text and says what is wrong, deleting asks first, and the keyboard alone
// can reach and submit the form. Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD,
// LABGATE_KEY1 / LABGATE_KEY1_FP, LABGATE_KEY2 / LABGATE_KEY2_FP / LABGATE_KEY2_COMMENT
// (public keys from ssh-keygen and their SHA256 fingerprints), LABGATE_PRIVATE_KEY.

import { env, flow, seeText, until } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const key1 = env("LABGATE_KEY1");
const fp1 = env("LABGATE_KEY1_FP");
const key2 = env("LABGATE_KEY2");
const fp2 = env("LABGATE_KEY2_FP");
const comment2 = env("LABGATE_KEY2_COMMENT");
const privateKey = env("LABGATE_PRIVATE_KEY");

await flow(async (t) => {
  const { assert } = t;
  const page = await t.page();
  const keyText = page.getByLabel("Key text");
  const keyName = page.getByLabel("Name");
  const submit = page.getByRole("button", { name: "submit", exact: true });
  const rows = page.locator("tbody tr");
  const rowOf = (text) => page.getByRole("row").filter({ hasText: text });
  const stillSamePage = async () => assert.equal(await page.evaluate(() => window.__marker), 1, "the page did not reload");

  await t.step("a new member sees an empty list and the upload form", async () => {
    await t.login(page, user, password);
    await t.visit(page, "/sshkeys");
    await seeText(page.locator("main"), "No SSH keys yet");
    assert.equal(await rows.count(), 0);
    await page.evaluate(() => { window.__marker = 1; });
  });

  await t.step("a pasted key appears as a row with its fingerprint, without a reload", async () => {
    await keyText.fill(key1);
    await keyName.fill("laptop");
    await submit.click();
    const row = rowOf("laptop");
    await seeText(row, fp1);
    await seeText(row, "ED25519");
    await stillSamePage();
    assert.equal(await keyText.inputValue(), "", "the form is emptied for the next key");
    assert.equal(await rows.count(), 1);
    assert.match(await row.getAttribute("id"), /^key-\d+$/);
    await t.audited(page);
  });

  await t.step("a mislabelled key is refused with its reason and the text kept", async () => {
    const mislabelled = key1.replace(/^ssh-ed25519 /, "ssh-rsa ");
    t.watch.expectStatus(422, "/sshkeys");
    await keyText.fill(mislabelled);
    await keyName.fill("work");
    await submit.click();
    await seeText(page.locator("#key-form"), "ssh-rsa");
    await stillSamePage();
    assert.equal(await keyText.inputValue(), mislabelled);
    assert.equal(await keyName.inputValue(), "work");
    assert.equal(await keyText.getAttribute("aria-invalid"), "true");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "key-text", "focus is on the field to fix");
    assert.equal(await rows.count(), 1, "nothing was added");
    await t.audited(page);
  });

  await t.step("a private key is refused plainly and never sent back to the page", async () => {
    t.watch.expectStatus(422, "/sshkeys");
    await keyText.fill(privateKey);
    await keyName.fill("oops");
    await submit.click();
    await seeText(page.locator("#key-form"), "PRIVATE key");
    await stillSamePage();
    const secret = privateKey.split("\n")[2];
    assert.ok(!(await page.content()).includes(secret), "no line of the private key is on the page");
    assert.equal(await keyName.inputValue(), "oops");
    assert.equal(await rows.count(), 1, "nothing was added");
    await t.audited(page);
  });

  await t.step("the same key twice is refused, naming where it already is", async () => {
    t.watch.expectStatus(422, "/sshkeys");
    await keyText.fill(key1);
    await keyName.fill("again");
    await submit.click();
    await seeText(page.locator("#key-form"), "laptop");
    assert.equal(await rows.count(), 1);
  });

  await t.step("the keyboard alone reaches and submits the form", async () => {
    // From the top of a freshly loaded page, as someone without a mouse arrives.
    await t.visit(page, "/sshkeys");
    await page.evaluate(() => { window.__marker = 1; });
    const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent.trim());
    let presses = 0;
    while ((await focused()) !== "key-text") {
      assert.ok(presses < 25, `the key text is reachable by Tab (stopped at ${await focused()})`);
      await page.keyboard.press("Tab");
      presses += 1;
    }
    await page.keyboard.insertText(key2);
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "key-name");
    // An empty name takes the key's comment.
    await page.keyboard.press("Tab");
    assert.match(await focused(), /^submit$/i);
    await page.keyboard.press("Enter");
    await seeText(rowOf(fp2), comment2);
    await stillSamePage();
    assert.equal(await rows.count(), 2);
  });

  await t.step("delete asks first: dismissing keeps the row, accepting removes it", async () => {
    const row = rowOf("laptop");
    let asked = "";
    page.once("dialog", (d) => { asked = d.message(); d.dismiss(); });
    await row.getByRole("button", { name: /delete/i }).click();
    await until(() => asked, "the confirmation dialog");
    assert.match(asked, /laptop/);
    await page.waitForTimeout(300);
    assert.equal(await row.count(), 1, "dismissed: the row stays");

    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: /delete/i }).click();
    await until(async () => (await row.count()) === 0, "the row to go");
    assert.equal(await rows.count(), 1);
    await stillSamePage();
  });

  await t.step("after a reload the list is what the server keeps", async () => {
    await t.visit(page, "/sshkeys");
    assert.equal(await rows.count(), 1);
    await seeText(rowOf(fp2), comment2);
    assert.equal(await rowOf(fp1).count(), 0);
  });
});
