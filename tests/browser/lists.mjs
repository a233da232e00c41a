// Lists that grow (issue 14, point 7): the security log is paged newest first with "Older";
// times show in the reader's own time zone with JavaScript and in UTC without; ended
// instances can be hidden and shown again. At 1280 px and 390 px.
// Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD (with 40 log entries), LABGATE_KEY,
// LABGATE_ROBOT (option text).

import { env, flow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const key = env("LABGATE_KEY");
const robot = env("LABGATE_ROBOT");

await flow(async (t) => {
  const { assert } = t;

  await t.step("at 1280 px in Tokyo: the log's times are local, and Older pages back", async () => {
    const page = await t.page({ viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Tokyo" });
    await t.login(page, user, password);
    await t.visit(page, "/account");
    const first = page.locator("#log time").first();
    const shown = await first.innerText();
    assert.ok(!shown.endsWith("UTC"), `local time: ${shown}`);
    assert.match(await first.getAttribute("title"), / UTC$/);
    const iso = await first.getAttribute("datetime");
    const utcHour = new Date(iso).getUTCHours();
    assert.equal(Number(shown.slice(11, 13)), (utcHour + 9) % 24, `${shown} is ${iso} in Tokyo`);
    await seeText(page.locator("#log"), "entry 39");
    await page.getByRole("link", { name: "Older" }).click();
    await page.waitForURL((u) => u.searchParams.has("before"));
    await t.audited(page);
    await seeText(page.locator("#log"), "entry 14");
    assert.equal(await page.getByRole("link", { name: "Older" }).count(), 0, "the oldest page");
    await page.getByRole("link", { name: "Newest" }).click();
    await seeText(page.locator("#log"), "entry 39");
  });

  await t.step("at 390 px without JavaScript the times read UTC", async () => {
    const page = await t.page({ viewport: { width: 390, height: 900 }, timezoneId: "Asia/Tokyo", javaScriptEnabled: false });
    await t.login(page, user, password);
    await t.visit(page, "/account");
    assert.match(await page.locator("#log time").first().innerText(), / UTC$/);
  });

  for (const width of [1280, 390]) {
    await t.step(`at ${width} px ended instances can be hidden and shown again`, async () => {
      const page = await t.page({ viewport: { width, height: 900 } });
      await t.login(page, user, password);
      await t.visit(page, "/instances");
      const select = page.getByLabel("Robot", { exact: true });
      await select.selectOption(await select.locator("option", { hasText: robot }).getAttribute("value"));
      await page.getByLabel("Or paste a public key").fill(key);
      await page.getByRole("button", { name: "Start instance" }).click();
      const running = page.getByRole("button", { name: "Terminate" });
      await running.waitFor();
      page.once("dialog", (d) => d.accept());
      await running.click();
      await seeText(page.locator("tbody"), "ended");
      await t.visit(page, "/instances");
      await page.getByRole("link", { name: "Hide ended instances" }).click();
      await page.waitForURL((u) => u.searchParams.get("ended") === "hide");
      assert.equal(await page.locator("tbody tr.ended").count(), 0, "no ended rows");
      await t.audited(page);
      await page.getByRole("link", { name: /^Show ended instances/ }).click();
      await page.waitForURL((u) => !u.search);
      assert.ok((await page.locator("tbody tr.ended").count()) >= 1, "ended rows are back");
    });
  }
});
