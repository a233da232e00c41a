// Bookings in time on /instances: book a robot ahead and see it on the timeline, cancel it;
// then, while another member holds the robot, wait in line and get the robot when it frees.
// Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD, LABGATE_ROBOT (the robot's option text),
// LABGATE_ROBOT_ID, LABGATE_KEY_NAME (a key the user saved), LABGATE_OTHER_TOKEN and
// LABGATE_OTHER_KEY (another member's API token and public key), LABGATE_SCREENSHOTS (a folder
// for bookings-desktop.png).

import { join } from "node:path";
import { env, flow, seeText, settled, until } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const robot = env("LABGATE_ROBOT");
const robotId = env("LABGATE_ROBOT_ID");
const keyName = env("LABGATE_KEY_NAME");
const otherToken = env("LABGATE_OTHER_TOKEN");
const otherKey = env("LABGATE_OTHER_KEY");
const shots = env("LABGATE_SCREENSHOTS");

/// A start a day (plus `hours`) from now, as the form's datetime-local field takes it (the lab
/// is on UTC here).
function startIn(hours) {
  const at = new Date(Date.now() + (24 + hours) * 3600 * 1000);
  return at.toISOString().slice(0, 13) + ":00";
}

async function otherMember(method, path, body) {
  const resp = await fetch(`${env("LABGATE_URL")}/api${path}`, {
    method,
    headers: { Authorization: `Bearer ${otherToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status !== 200) throw new Error(`${method} ${path}: HTTP ${resp.status}`);
  return resp.json();
}

await flow(async (t) => {
  const { assert } = t;
  const page = await t.page({ viewport: { width: 1280, height: 800 } });
  const main = page.locator("main");
  const bookAhead = async (start) => {
    const form = page.locator("form.new-instance");
    const value = await form.getByLabel("Robot").locator("option", { hasText: robot }).getAttribute("value");
    await form.getByLabel("Robot").selectOption(value);
    await form.getByLabel("Start").fill(start);
    await form.getByRole("checkbox", { name: keyName }).check();
    await form.getByRole("button", { name: "Start instance" }).click();
    await settled(page);
  };

  await t.step("a booking made ahead shows as booked, with its start, and on the timeline", async () => {
    await t.login(page, user, password);
    await t.visit(page, "/instances");
    await bookAhead(startIn(2));
    const row = page.locator("table.instances tbody tr").first();
    await seeText(row, "booked");
    await seeText(row, startIn(2).replace("T", " "));
    await row.getByRole("button", { name: "Cancel booking" }).waitFor();
    const slot = page.locator(".timeline-slot.mine");
    await until(async () => (await slot.count()) === 1, "one booking of mine on the timeline");
    await seeText(slot, user);
    await t.audited(page);
  });

  await t.step("cancelling it after the confirmation frees the window", async () => {
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Cancel booking" }).click();
    await settled(page);
    await seeText(page.locator("table.instances tbody tr").first(), "cancelled");
    await until(async () => (await page.locator(".timeline-slot").count()) === 0, "the timeline is empty again");
    await t.audited(page);
  });

  let held;
  await t.step("while another member holds the robot, waiting in line is offered and taken", async () => {
    await bookAhead(startIn(5));
    held = (await otherMember("POST", `/new/${robotId}`, { sshkey: otherKey, expire_d: 3600 })).id;
    await t.visit(page, "/instances");
    const running = page.locator(".timeline-slot.running");
    await seeText(running, "booked");
    const form = page.locator("form.wait-in-line");
    await form.getByLabel("Wait for").selectOption(robotId);
    const keySelect = form.getByLabel("Key that may log in");
    await keySelect.selectOption(await keySelect.locator("option", { hasText: keyName }).getAttribute("value"));
    await form.getByRole("button", { name: "Wait in line" }).click();
    await settled(page);
    const line = page.locator("table.reservations tbody tr");
    await until(async () => (await line.count()) === 1, "one reservation listed");
    await seeText(line.first(), `deployment ${robotId}`);
    await t.audited(page);
    await page.screenshot({ path: join(shots, "bookings-desktop.png"), fullPage: true });
  });

  await t.step("when the robot frees, the reservation becomes the member's running instance", async () => {
    await otherMember("POST", `/terminate/${held}`);
    await t.visit(page, "/instances");
    assert.equal(await page.locator("table.reservations").count(), 0, "no one waiting any more");
    const rows = page.locator("table.instances tbody tr");
    const texts = await rows.allInnerTexts();
    assert.ok(texts.some((r) => r.includes("READY")), `a running instance: ${texts}`);
    assert.ok(texts.some((r) => r.includes("booked")), `the booking ahead is still there: ${texts}`);
    await seeText(main, "Host key fingerprints");
  });
});
