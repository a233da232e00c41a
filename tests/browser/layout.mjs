// Nothing scrolls sideways (issue 14, point 3): with a 64-character key name, a long comment
// used as a name, a generated key pair and fingerprints in the security log, every page fits
// a 320 px and a 390 px phone and a 1280 px desktop, and no button or text sticks out of its
// card. Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD, LABGATE_KEY1 (named LABGATE_LONG_NAME
// here), LABGATE_KEY2 (its long comment becomes its name), LABGATE_KEY2_COMMENT, LABGATE_ROBOT (option text), LABGATE_ROBOT_HOST.
// At 1280 px fingerprints and dates keep to one line and the robot is named, not numbered
// (point 10).

import { env, flow, overflow, seeText } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const key1 = env("LABGATE_KEY1");
const longName = env("LABGATE_LONG_NAME");
const key2 = env("LABGATE_KEY2");
const comment2 = env("LABGATE_KEY2_COMMENT");
const robot = env("LABGATE_ROBOT");
const robotHost = env("LABGATE_ROBOT_HOST");

const WIDTHS = [320, 390, 1280];
const PAGES = ["/sshkeys", "/instances", "/tokens", "/account"];

await flow(async (t) => {
  const { assert } = t;
  const page = await t.page({ viewport: { width: 1280, height: 900 } });

  await t.step("keys with a 64-character name and a long comment as name are saved", async () => {
    await t.login(page, user, password);
    await t.visit(page, "/sshkeys");
    await page.getByLabel("Key text").fill(key1);
    await page.getByLabel("Name").fill(longName);
    await page.getByRole("button", { name: "submit", exact: true }).click();
    await seeText(page.locator("#keys-list"), longName);
    await page.getByLabel("Key text").fill(key2);
    await page.getByRole("button", { name: "submit", exact: true }).click();
    await seeText(page.locator("#keys-list"), comment2);
  });

  await t.step("an instance with the long-named key and a generated key pair is running", async () => {
    await t.visit(page, "/instances");
    const value = await page.getByLabel("Robot", { exact: true }).locator("option", { hasText: robot }).getAttribute("value");
    await page.getByLabel("Robot", { exact: true }).selectOption(value);
    await page.getByRole("checkbox", { name: longName }).check();
    await page.getByRole("checkbox", { name: /Generate a new key pair/ }).check();
    await page.getByRole("button", { name: "Start instance" }).click();
    // A debug build may take a while to make an RSA key pair.
    await seeText(page.locator("tbody tr").first(), `Keys: ${longName}`, 60000);
    await page.getByRole("button", { name: "Terminate" }).waitFor();
  });

  for (const width of WIDTHS) {
    await t.step(`at ${width} px no page scrolls sideways and nothing leaves its card`, async () => {
      await page.setViewportSize({ width, height: 900 });
      for (const path of PAGES) {
        await t.visit(page, path);
        const bad = await overflow(page);
        assert.deepEqual(bad, [], `${path} at ${width} px`);
      }
    });
  }

  await t.step("at 1280 px fingerprints and dates keep to one line and the content uses the width", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await t.visit(page, "/sshkeys");
    const lines = await page.evaluate(() => {
      const count = (el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      };
      return [...document.querySelectorAll(".keys code.fingerprint, .keys td[data-label='Added']")].map(
        (el) => [el.textContent.trim(), count(el)],
      );
    });
    assert.ok(lines.length >= 4, `fingerprints and dates found: ${JSON.stringify(lines)}`);
    for (const [text, n] of lines) assert.equal(n, 1, `${text} on one line`);
    const main = await page.locator("main").boundingBox();
    assert.ok(main.width >= 1200, `main is ${main.width} px wide at 1280 px`);
  });

  await t.step("the instance names its robot by type, description and host; the id is there on demand", async () => {
    await t.visit(page, "/instances");
    const cell = page.locator("tbody tr").first().locator("td[data-label='Robot']");
    await seeText(cell, `${robot} `.replace(": ", " · ").trim());
    await seeText(cell, robotHost);
    const id = cell.locator("details.robot-id code");
    assert.ok(!(await id.isVisible()), "the id is folded away");
    await cell.getByText("Robot id").click();
    assert.match(await id.innerText(), /^[0-9a-f-]{36}$/);
  });

  await t.step("the instance's buttons stay inside the card at 390 px", async () => {
    await page.setViewportSize({ width: 390, height: 900 });
    await t.visit(page, "/instances");
    const card = await page.locator("section.card").first().boundingBox();
    for (const name of ["Terminate", "Extend", "Shorten", "download private key (once)"]) {
      const box = await page.getByRole("button", { name }).first().boundingBox();
      assert.ok(box.x >= card.x && box.x + box.width <= card.x + card.width + 0.5, `${name} inside the card`);
    }
  });
});
