#!/usr/bin/env python3
"""Access rules through the stock rerobots 0.11.0 client, and its CLI's `wdinfo` through
contrib/rerobots-labgate.

Run by the ignored Rust test `rerobots::stock_client_access_rules`, which sets up the server
and these variables:

  LABGATE_URL            base URI including /api, no trailing slash
  LABGATE_ADMIN_TOKEN    rw token of an admin
  LABGATE_MEMBER_TOKEN   rw token of mia, whom no rule names
  LABGATE_INSIDE_TOKEN   rw token of olga, whom the test's rule names
  LABGATE_GROUP_TOKEN    rw token of gus, a member of group "vision"
  LABGATE_WD             a ur5e robot without rules at the start
  LABGATE_GROUP_WD       a misty robot whose one rule names group "vision"
  LABGATE_PUBKEY         an SSH public key line
  LABGATE_WRAPPER        path of contrib/rerobots-labgate
  LABGATE_ADMIN_JWT      a file holding the admin token (as a downloaded jwt.txt)

Prints one line per check; exits 1 with "FAIL: ..." on the first mismatch.
"""
import json
import os
import subprocess
import sys

import rerobots
from rerobots.api import APIClient, Error

env = os.environ
BASE = env['LABGATE_URL']
WD, GROUP_WD, PUBKEY = env['LABGATE_WD'], env['LABGATE_GROUP_WD'], env['LABGATE_PUBKEY']


def fail(message):
    print('FAIL: ' + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print('ok   ' + message)


def raises(call, message):
    try:
        result = call()
    except Error as e:
        print('ok   %s (%s: %s)' % (message, type(e).__name__, e))
        return str(e)
    fail('%s: expected an error, got the answer %r' % (message, result))


def wd_ids(apic):
    return [d['id'] for d in apic.get_wdeployments()]


def client(name):
    return APIClient(api_token=env[name], base_uri=BASE, ignore_env=True)


check(rerobots.__version__ == '0.11.0', 'rerobots client is 0.11.0')
admin, mia, olga, gus = (client('LABGATE_ADMIN_TOKEN'), client('LABGATE_MEMBER_TOKEN'),
                         client('LABGATE_INSIDE_TOKEN'), client('LABGATE_GROUP_TOKEN'))

# At the start: WD is open to all; GROUP_WD only to group vision (so mia does not see it).
check(admin.get_access_rules(WD) == [], 'get_access_rules(WD) is empty: the robot is open')
group_rules = admin.get_access_rules(GROUP_WD)
check(len(group_rules) == 1 and group_rules[0].get('group') == 'vision'
      and group_rules[0]['cap'] == 'CAP_INSTANTIATE', 'the group rule reads {id, cap, group}')
check(WD in wd_ids(mia), 'mia sees the open robot')
check(GROUP_WD not in wd_ids(mia), 'mia does not see the group robot')
check(GROUP_WD in wd_ids(gus), 'gus (in vision) sees the group robot')
check(mia.get_access_rules() == [], 'mia reads no rules: none on robots she can see')

# Members may not change rules; the open robot answers 403, a hidden one as unknown.
message = raises(lambda: mia.create_access_rule(WD, 'CAP_INSTANTIATE', to_user='mia'),
                 'create_access_rule with a member token is refused')
check('403' in message, 'refused as forbidden (403)')
message = raises(lambda: mia.create_access_rule(GROUP_WD, 'CAP_INSTANTIATE', to_user='mia'),
                 'create_access_rule on a robot mia cannot see is refused')
check('404' in message, 'answered as an unknown robot (404)')

# The admin names olga on WD: from then on only olga (and admins) may book it.
rule_id = admin.create_access_rule(WD, 'CAP_INSTANTIATE', to_user='olga')
check(isinstance(rule_id, int), 'create_access_rule returns a rule id (%r)' % rule_id)
check(admin.create_access_rule(WD, 'CAP_INSTANTIATE', to_user='olga') == rule_id,
      'the same rule twice gives the same id')
rules = admin.get_access_rules(WD)
check([(r['id'], r['cap'], r['user']) for r in rules] == [(rule_id, 'CAP_INSTANTIATE', 'olga')],
      'get_access_rules(WD) lists {id, cap, user}')
check(any(r['id'] == rule_id for r in admin.get_access_rules()), 'get_access_rules() lists it too')
check(len(admin.get_access_rules(WD, to_user='olga')) == 1, 'to_user=olga finds it')
check(admin.get_access_rules(WD, to_user='mia') == [], 'to_user=mia finds nothing')

check(WD not in wd_ids(mia), 'mia no longer sees the robot')
check(mia.get_wtypes() == [], 'mia sees no workspace types (both robots are closed to her)')
raises(lambda: mia.get_wdeployment_info(WD), 'get_wdeployment_info(WD) fails for mia')
raises(lambda: mia.get_access_rules(WD), 'get_access_rules(WD) fails for mia')
message = raises(lambda: mia.request_instance(WD, sshkey=PUBKEY),
                 'mia cannot book the robot by id')
unknown = raises(lambda: mia.request_instance('0' * 8 + '-0000-0000-0000-' + '0' * 12, sshkey=PUBKEY),
                 'booking an unknown id fails')
check(message.replace(WD, 'X') == unknown.replace('0' * 8 + '-0000-0000-0000-' + '0' * 12, 'X'),
      'a hidden robot answers exactly as an unknown one')
raises(lambda: mia.request_instance('ur5e', sshkey=PUBKEY), 'mia cannot book it by type either')

check(WD in wd_ids(olga), 'olga sees the robot')
check([r['user'] for r in olga.get_access_rules(WD)] == ['olga'], 'olga reads its rules')
made = olga.request_instance(WD, sshkey=PUBKEY)
check(made.get('success') is True, 'olga books it')
olga.terminate_instance(made['id'])
made = gus.request_instance('misty', sshkey=PUBKEY)
check(made.get('success') is True, 'gus books the group robot by type')
gus.terminate_instance(made['id'])

# wdinfo of the stock CLI, through the contrib wrapper, with a jwt.txt file.
out = subprocess.run([sys.executable, env['LABGATE_WRAPPER'], '--base-uri', BASE[:-len('/api')],
                      '-t', env['LABGATE_ADMIN_JWT'], 'wdinfo', WD],
                     capture_output=True, text=True, timeout=60)
check(out.returncode == 0, 'rerobots-labgate wdinfo exits 0 (%s)' % out.stderr.strip())
info = json.loads(out.stdout)
check(info['id'] == WD and info['type'] == 'ur5e', 'wdinfo prints the robot')
check([(r['id'], r['user']) for r in info['cap']] == [(rule_id, 'olga')], 'wdinfo prints its rules')
out = subprocess.run([sys.executable, env['LABGATE_WRAPPER'], 'wdinfo', WD],
                     capture_output=True, text=True, timeout=60,
                     env={k: v for k, v in env.items() if k not in ('LABGATE_URL', 'REROBOTS_API_TOKEN')})
check(out.returncode != 0 and 'base-uri' in (out.stderr + out.stdout),
      'without an address the wrapper says how to give one')

# Only admins delete rules; with the last rule gone the robot is open again.
message = raises(lambda: olga.del_access_rule(WD, rule_id), 'del_access_rule with a member token is refused')
check('403' in message, 'refused as forbidden (403)')
admin.del_access_rule(WD, rule_id)
check(admin.get_access_rules(WD) == [], 'del_access_rule removes it')
raises(lambda: admin.del_access_rule(WD, rule_id), 'deleting it again fails')
check(WD in wd_ids(mia), 'mia sees the robot again')
print('ALL OK')
