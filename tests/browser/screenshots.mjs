// The README's screenshots: each page at desktop (1280 px) and phone (390 px) width, as PNG.
// A setup step first fills the member's account through the pages, as they would.
// Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD (a member with nothing yet),
// LABGATE_KEY1, LABGATE_KEY2 (public keys), LABGATE_ROBOT (text of a robot's option on the
// new-instance form), LABGATE_SCREENSHOTS (the folder to write to).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { env, flow, settled } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const keys = [
  ["laptop", env("LABGATE_KEY1")],
  ["workstation", env("LABGATE_KEY2")],
];
const robot = env("LABGATE_ROBOT");
const out = env("LABGATE_SCREENSHOTS");
mkdirSync(out, { recursive: true });

const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
};

// Each shot: a name and how to bring a signed-in (or not) page to the state worth showing.
const SHOTS = [
  {
    name: "login",
    signedIn: false,
    async prepare(t, page) {
      await t.visit(page, "/login");
    },
  },
  {
    name: "sshkeys",
    signedIn: true,
    async prepare(t, page) {
      await t.visit(page, "/sshkeys");
    },
  },
  {
    name: "tokens",
    signedIn: true,
    async prepare(t, page) {
      await t.visit(page, "/tokens");
      await page.getByRole("link", { name: /show token nightly build/i }).click();
      await page.getByRole("region", { name: "token", exact: true }).getByLabel("Token text").waitFor();
    },
  },
  {
    name: "instances",
    signedIn: true,
    async prepare(t, page) {
      await t.visit(page, "/instances");
    },
  },
];

/// Two saved keys, two tokens and a running instance, made through the pages.
async function setup(t) {
  const page = await t.page();
  await t.login(page, user, password);
  await t.visit(page, "/sshkeys");
  for (const [name, key] of keys) {
    await page.getByLabel("Key text").fill(key);
    await page.getByLabel("Name").fill(name);
    await page.getByRole("button", { name: "submit", exact: true }).click();
    await page.getByRole("row").filter({ hasText: name }).waitFor();
    await settled(page);
  }
  await t.visit(page, "/tokens");
  for (const note of ["laptop scripts", "nightly build"]) {
    await page.getByLabel("Note").fill(note);
    await page.getByRole("button", { name: "make API token" }).click();
    await page.getByRole("row").filter({ hasText: note }).waitFor();
    // The new token's panel takes the focus when the swap settles; type the next note after.
    await settled(page);
  }
  await t.visit(page, "/instances");
  const value = await page.getByLabel("Robot").locator("option", { hasText: robot }).getAttribute("value");
  await page.getByLabel("Robot").selectOption(value);
  await page.getByRole("checkbox", { name: "laptop" }).check();
  await page.getByRole("button", { name: "Start instance" }).click();
  await page.getByRole("button", { name: "Terminate" }).waitFor();
  await page.close();
}

await flow(async (t) => {
  await t.step("the member's keys, tokens and instance are made through the pages", () => setup(t));
  for (const [size, options] of Object.entries(SIZES)) {
    const page = await t.page({ ...options, deviceScaleFactor: 1, colorScheme: "light", reducedMotion: "reduce" });
    let signedIn = false;
    for (const shot of SHOTS) {
      await t.step(`${shot.name} at ${size} size`, async () => {
        if (shot.signedIn && !signedIn) {
          await t.login(page, user, password);
          signedIn = true;
        }
        await shot.prepare(t, page);
        await t.audited(page);
        // A layout wider than the screen means sideways scrolling on a phone.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        t.assert.ok(overflow <= 0, `the page is ${overflow} px wider than the ${size} screen`);
        await page.screenshot({ path: join(out, `${shot.name}-${size}.png`), fullPage: true, animations: "disabled" });
      });
    }
  }
});
