// Groups, a robot's access rules and Admin → Bookings in the browser. The admin makes group
// "vision" and puts mia in it, then limits robot B to that group on the robot's page: kim (not
// in it) no longer sees B on Instances, mia does. mia books B; the admin ends that booking on
// Admin → Bookings with a reason, and mia sees the reason on her row and in her security log.
// Env: LABGATE_URL, LABGATE_ADMIN_PASSWORD, LABGATE_MIA_PASSWORD, LABGATE_KIM_PASSWORD,
// LABGATE_ROBOT_B (id), LABGATE_ROBOT_B_OPTION (start of its option on the booking form),
// LABGATE_KEY (a public key mia pastes).

import { env, flow, seeText, settled, until } from "./lib.mjs";

const adminPassword = env("LABGATE_ADMIN_PASSWORD");
const robotB = env("LABGATE_ROBOT_B");
const robotOption = env("LABGATE_ROBOT_B_OPTION");
const key = env("LABGATE_KEY");
const reason = "the arm goes to the workshop for repairs";

await flow(async (t) => {
  const { assert } = t;
  const admin = await t.page();
  const mia = await t.page();
  const kim = await t.page();

  await t.step("the admin tabs include Groups and Bookings", async () => {
    await t.login(admin, "admin", adminPassword);
    await t.visit(admin, "/admin/users");
    const tabs = admin.getByRole("navigation", { name: "Admin sections" });
    assert.deepEqual(await tabs.getByRole("link").allInnerTexts(), ["Users", "Groups", "Robots", "Bookings", "Limits"]);
    await tabs.getByRole("link", { name: "Groups", exact: true }).click();
    await admin.waitForURL("**/admin/groups");
    await t.audited(admin);
  });

  await t.step("a bad group name is refused in place; a good one is made", async () => {
    await admin.getByLabel("Name").fill("Vision Lab");
    t.watch.expectStatus(422, "/admin/groups");
    await admin.getByRole("button", { name: "Create group" }).click();
    await seeText(admin.getByRole("alert"), "a group name is 1 to 64");
    assert.equal(await admin.getByLabel("Name").inputValue(), "Vision Lab");
    await admin.getByLabel("Name").fill("vision");
    await admin.getByRole("button", { name: "Create group" }).click();
    await seeText(admin.locator("#toasts"), "Group vision created.");
    await seeText(admin.locator("article.group"), "vision");
    await t.audited(admin);
  });

  await t.step("mia joins the group; an unknown name is refused on that group's card", async () => {
    const card = admin.locator("article.group").filter({ hasText: "vision" });
    await card.getByLabel("Add member").fill("nobody");
    t.watch.expectStatus(422, `/admin/groups/${await groupId(card)}/members`);
    await card.getByRole("button", { name: "Add to vision" }).click();
    await seeText(admin.getByRole("alert"), "no user named nobody");
    const fresh = admin.locator("article.group").filter({ hasText: "vision" });
    await fresh.getByLabel("Add member").fill("mia");
    await fresh.getByRole("button", { name: "Add to vision" }).click();
    await seeText(admin.locator("#toasts"), "mia is now in vision.");
    await seeText(admin.locator("article.group").filter({ hasText: "vision" }).locator("ul.members"), "mia");
    await t.audited(admin);
  });

  await t.step("mia's account page lists her group", async () => {
    await t.login(mia, "mia", env("LABGATE_MIA_PASSWORD"));
    await t.visit(mia, "/account");
    await seeText(mia.locator("#groups"), "vision");
  });

  await t.step("the robot's page limits it to the group", async () => {
    await t.visit(admin, "/admin/deployments");
    await admin.locator(`#robot-${robotB}`).getByRole("link", { name: "Manage" }).click();
    await admin.waitForURL(`**/admin/deployments/${robotB}`);
    await t.audited(admin);
    await seeText(admin.locator("#rules"), "every member");
    await admin.getByLabel("Allow").selectOption("group");
    await admin.getByLabel("User or group name").fill("vision");
    await admin.getByRole("button", { name: "Add rule" }).click();
    await seeText(admin.locator("#toasts"), "The group vision may book this robot.");
    await seeText(admin.locator("#rules"), "group vision");
    await t.audited(admin);
  });

  await t.step("kim, outside the group, no longer sees the robot; mia does", async () => {
    await t.login(kim, "kim", env("LABGATE_KIM_PASSWORD"));
    await t.visit(kim, "/instances");
    const kimOptions = await kim.getByLabel("Robot").locator("option").allInnerTexts();
    assert.ok(!kimOptions.some((o) => o.startsWith(robotOption)), `kim's choices: ${kimOptions}`);
    assert.ok(!(await kim.content()).includes(robotB), "the id is nowhere on kim's page");
    await t.visit(mia, "/instances");
    const miaOptions = await mia.getByLabel("Robot").locator("option").allInnerTexts();
    assert.ok(miaOptions.some((o) => o.startsWith(robotOption)), `mia's choices: ${miaOptions}`);
  });

  let instanceId;
  await t.step("mia books the robot", async () => {
    const option = mia.getByLabel("Robot").locator("option", { hasText: robotOption });
    await mia.getByLabel("Robot").selectOption(await option.getAttribute("value"));
    await mia.getByLabel("Or paste a public key").fill(key);
    await mia.getByRole("button", { name: "Start instance" }).click();
    await seeText(mia.locator("#toasts"), "Instance started");
    const row = mia.locator("tr[id^=instance-]").first();
    instanceId = (await row.getAttribute("id")).slice("instance-".length);
    await seeText(row, "READY");
  });

  await t.step("the admin sees the booking on Admin → Bookings", async () => {
    await admin.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name: "Bookings" }).click();
    await admin.waitForURL("**/admin/bookings");
    const row = admin.locator(`#booking-${instanceId}`);
    await seeText(row, "mia");
    await seeText(row, "ur5e");
    await t.audited(admin);
  });

  await t.step("ending it asks first, then ends it with the reason", async () => {
    const row = admin.locator(`#booking-${instanceId}`);
    await row.getByLabel(/Reason for ending/).fill(reason);
    let asked = "";
    admin.once("dialog", (d) => { asked = d.message(); d.dismiss(); });
    await row.getByRole("button", { name: "End booking" }).click();
    await until(() => asked, "the confirmation dialog");
    assert.match(asked, /mia/);
    await admin.waitForTimeout(300);
    assert.equal(await admin.locator(`#booking-${instanceId}`).count(), 1, "still running after cancel");
    admin.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: "End booking" }).click();
    await seeText(admin.locator("#toasts"), "Booking ended");
    await until(async () => (await admin.locator(`#booking-${instanceId}`).count()) === 0, "the row to go");
    await seeText(admin.locator("#bookings"), "Nobody has a robot booked");
    await settled(admin);
    await t.audited(admin);
  });

  await t.step("mia sees why on her row and in her security log", async () => {
    await t.visit(mia, "/instances");
    await seeText(mia.locator(`#instance-${instanceId}`), `ended by an admin: ${reason}`);
    await t.visit(mia, "/account");
    await seeText(mia.locator("#log table"), `ended by admin admin: ${reason}`);
  });
});

/// The numeric id of a group's card (`group-ID`).
async function groupId(card) {
  return (await card.getAttribute("id")).slice("group-".length);
}
