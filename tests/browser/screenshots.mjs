// The README's screenshots: each page at desktop (1280 px) and phone (390 px) width, as PNG.
// Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD (a member whose data the Rust test has
// prepared), LABGATE_SCREENSHOTS (the folder to write to).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { env, flow } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
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
];

await flow(async (t) => {
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
