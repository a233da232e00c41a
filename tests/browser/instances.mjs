// Booking a robot on /instances: choose the robot and a saved key, see the instance with the
// ssh line and the robot's host key fingerprint, and terminate it after a confirmation; the
// API agrees at each step. Env: LABGATE_URL, LABGATE_USER, LABGATE_PASSWORD, LABGATE_TOKEN
// (an API token of that user), LABGATE_ROBOT (the deployment's option text), LABGATE_SSH_LINE,
// LABGATE_HOSTKEY_FP, LABGATE_KEY_NAME / LABGATE_KEY / LABGATE_KEY_FP (a key the user saved),
// LABGATE_ROBOT_ID / LABGATE_ROBOT_CREDENTIAL (to ask as the robot's sshd helper does).

import { env, flow, seeText, until } from "./lib.mjs";

const user = env("LABGATE_USER");
const password = env("LABGATE_PASSWORD");
const token = env("LABGATE_TOKEN");
const robot = env("LABGATE_ROBOT");
const sshLine = env("LABGATE_SSH_LINE");
const hostkeyFp = env("LABGATE_HOSTKEY_FP");
const keyName = env("LABGATE_KEY_NAME");
const keyBlob = env("LABGATE_KEY").split(" ")[1];
const keyFp = env("LABGATE_KEY_FP");
const robotId = env("LABGATE_ROBOT_ID");
const credential = env("LABGATE_ROBOT_CREDENTIAL");

/// What the robot's sshd would be told may log in, asked with the robot's own credential.
async function robotLetsIn(query = "") {
  const url = `${env("LABGATE_URL")}/api/deployment/${robotId}/authorized_keys${query}`;
  const resp = await fetch(url, { headers: { Authorization: `Bearer ${credential}` } });
  if (resp.status !== 200) throw new Error(`robot lookup: HTTP ${resp.status}`);
  return resp.text();
}

await flow(async (t) => {
  const { assert } = t;
  const context = await t.context();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: t.base });
  const page = await context.newPage();
  const rows = page.locator("tbody tr");
  const api = async (path) => {
    const resp = await fetch(`${t.base}/api${path}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(resp.status, 200, `GET /api${path}`);
    return resp.json();
  };
  let instanceId;

  await t.step("the member has no instances and a form offering the robot and the saved key", async () => {
    await t.login(page, user, password);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Instances" }).click();
    await page.waitForURL("**/instances");
    await t.audited(page);
    await seeText(page.locator("main"), "No instances yet");
    const options = await page.getByLabel("Robot").locator("option").allInnerTexts();
    assert.ok(options.some((o) => o.includes(robot)), `the robot is offered: ${options}`);
    await page.getByRole("checkbox", { name: keyName }).waitFor();
  });

  await t.step("booking the robot with a saved key shows the instance and its ssh line", async () => {
    await page.evaluate(() => { window.__marker = 1; });
    const value = await page.getByLabel("Robot").locator("option", { hasText: robot }).getAttribute("value");
    await page.getByLabel("Robot").selectOption(value);
    await page.getByRole("checkbox", { name: keyName }).check();
    await page.getByRole("button", { name: "Start instance" }).click();
    const row = rows.first();
    await seeText(row, sshLine);
    await seeText(row, `Keys: ${keyName}`);
    instanceId = (await row.getAttribute("id")).replace(/^instance-/, "");
    assert.equal(await page.evaluate(() => window.__marker), 1, "the page did not reload");
    await t.audited(page);
    const listed = await api("/instances");
    assert.deepEqual(listed.workspace_instances, [instanceId]);
  });

  await t.step("the robot now lets the chosen key in, and the keys page says it was used there", async () => {
    const lines = await robotLetsIn(`?fingerprint=${encodeURIComponent(keyFp)}`);
    assert.ok(lines.includes(keyBlob), `authorized_keys: ${lines}`);
    await t.visit(page, "/sshkeys");
    const lastUsed = page.getByRole("row").filter({ hasText: keyName }).locator("td[data-label='Last used']");
    const seen = await seeText(lastUsed, "ur5e");
    assert.ok(!seen.includes("never"), seen);
    await t.visit(page, "/instances");
    await page.evaluate(() => { window.__marker = 1; });
  });

  await t.step("the robot's host key fingerprint is there to compare", async () => {
    const row = page.locator(`#instance-${instanceId}`);
    await row.getByText("Host key fingerprints").click();
    await seeText(row.locator("details.hostkeys"), hostkeyFp);
  });

  await t.step("the ssh line copies to the clipboard", async () => {
    await page.locator(`#instance-${instanceId}`).getByRole("button", { name: /copy/i }).click();
    await until(async () => (await page.evaluate(() => navigator.clipboard.readText())) === sshLine, "the clipboard");
  });

  await t.step("the booked robot is no longer offered", async () => {
    const option = page.getByLabel("Robot").locator("option", { hasText: robot });
    assert.ok(await option.isDisabled(), "the busy robot's option is disabled");
  });

  await t.step("terminate asks first: dismiss keeps the instance, accept ends it", async () => {
    const row = page.locator(`#instance-${instanceId}`);
    let asked = "";
    page.once("dialog", (d) => { asked = d.message(); d.dismiss(); });
    await row.getByRole("button", { name: "Terminate" }).click();
    await until(() => asked, "the confirmation dialog");
    await page.waitForTimeout(300);
    assert.equal(await row.getByRole("button", { name: "Terminate" }).count(), 1, "still running");

    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: "Terminate" }).click();
    await until(async () => (await row.getByRole("button", { name: "Terminate" }).count()) === 0, "the instance to end");
    await seeText(row, "ended");
    assert.equal(await row.locator("code", { hasText: sshLine }).count(), 0, "no ssh line for an ended instance");
    assert.equal(await page.evaluate(() => window.__marker), 1, "the page did not reload");
    await t.audited(page);
    assert.equal(await robotLetsIn(), "", "the robot lets nobody in any more");
    const info = await api(`/instance/${instanceId}`);
    assert.match(info.status, /^TERMINAT/);
    const option = page.getByLabel("Robot").locator("option", { hasText: robot });
    assert.ok(!(await option.isDisabled()), "the robot is free again");
  });
});
