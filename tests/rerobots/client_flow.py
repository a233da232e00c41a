#!/usr/bin/env python3
"""Drive a labgate server with the stock rerobots 0.11.0 client and check every answer.

Run by the ignored Rust test `rerobots::stock_rerobots_client_end_to_end`, which sets up the
server and these variables:

  LABGATE_URL       base URI including /api, no trailing slash
  LABGATE_TOKEN     rw token of the member (purged at the very end)
  LABGATE_TOKEN2    a second rw token of the same member (revoked)
  LABGATE_TOKEN_RO  an ro token of the same member
  LABGATE_WD        a free robot of type ur5e
  LABGATE_BUSY_WD   a robot of type misty that another member holds
  LABGATE_PUBKEY    an SSH public key line

Prints one line per check; exits 1 with "FAIL: ..." on the first mismatch.
"""
import io
import os
import sys

import rerobots
from rerobots import Instance
from rerobots.api import (APIClient, BusyWorkspaceDeployment, Error, InstanceNotFound,
                          WrongAuthToken)


def fail(message):
    print('FAIL: ' + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print('ok   ' + message)


def raises(exc, call, message):
    try:
        result = call()
    except exc as e:
        print('ok   %s (%s: %s)' % (message, type(e).__name__, e))
        return e
    except Exception as e:  # noqa: BLE001 - report whatever came instead
        fail('%s: expected %s, got %s: %s' % (message, exc.__name__, type(e).__name__, e))
    fail('%s: expected %s, got the answer %r' % (message, exc.__name__, result))


env = os.environ
BASE, TOKEN, TOKEN2, RO = env['LABGATE_URL'], env['LABGATE_TOKEN'], env['LABGATE_TOKEN2'], env['LABGATE_TOKEN_RO']
WD, BUSY_WD, PUBKEY = env['LABGATE_WD'], env['LABGATE_BUSY_WD'], env['LABGATE_PUBKEY']

check(rerobots.__version__ == '0.11.0', 'rerobots client is 0.11.0 (found %s)' % rerobots.__version__)
apic = APIClient(api_token=TOKEN, base_uri=BASE, ignore_env=True)
anon = APIClient(base_uri=BASE, ignore_env=True)
bad = APIClient(api_token='deadbeef', base_uri=BASE, ignore_env=True)
ro = APIClient(api_token=RO, base_uri=BASE, ignore_env=True)

# Types and robots.
check(apic.get_wtypes() == ['misty', 'ur5e'], 'get_wtypes() lists the types')
wds = apic.get_wdeployments()
check(sorted(w['id'] for w in wds) == sorted([WD, BUSY_WD]), 'get_wdeployments() lists both robots')
check(all(set(w) == {'id', 'type', 'region', 'queuelen'} for w in wds), 'each with id, type, region, queuelen')
page1, count = apic.get_wdeployments(page=1, max_per_page=1)
page2, count2 = apic.get_wdeployments(page=2, max_per_page=1)
check(len(page1) == 1 and len(page2) == 1 and count == count2 == 2, 'get_wdeployments paged: 2 pages of 1')
check(page1[0]['id'] != page2[0]['id'], 'the two pages differ')
check([w['id'] for w in apic.get_wdeployments(types=['ur5e'])] == [WD], 'types=[ur5e] gives the ur5e')
check([w['id'] for w in apic.get_wdeployments(types=['!ur5e'])] == [BUSY_WD], 'types=[!ur5e] excludes it')
check([w['id'] for w in apic.get_wdeployments(maxlen=0)] == [WD], 'maxlen=0 leaves out the busy robot')
check([w['id'] for w in apic.get_wdeployments(query='misty')] == [BUSY_WD], 'query=misty finds it')
info = apic.get_wdeployment_info(WD)
check(info['id'] == WD and info['type'] == 'ur5e' and info['online'] is True, 'get_wdeployment_info(WD)')
raises(Error, lambda: apic.get_wdeployment_info('no-such-robot'), 'get_wdeployment_info(unknown)')

# Who may ask.
raises(WrongAuthToken, anon.get_instances, 'get_instances without a token')
raises(WrongAuthToken, bad.get_instances, 'get_instances with a bad token')
e = raises(Error, lambda: ro.request_instance(WD, sshkey=PUBKEY), 'request_instance with an ro token')
check('read-only' in str(e), 'the ro refusal says the token is read-only')

# Busy robots.
raises(BusyWorkspaceDeployment, lambda: apic.request_instance(BUSY_WD, sshkey=PUBKEY), 'request_instance(busy robot)')
raises(BusyWorkspaceDeployment, lambda: apic.request_instance('misty'), 'request_instance(type with no free robot)')

# An instance with a generated key pair.
res = apic.request_instance(WD)
inst = res['id']
check(res.get('sshkey', '').startswith('-----BEGIN RSA PRIVATE KEY-----'), 'request_instance(WD) returns an RSA private key')
try:
    import paramiko
except ImportError:
    print('skip paramiko is not installed: not loading the key with RSAKey')
else:
    key = paramiko.RSAKey.from_private_key(io.StringIO(res['sshkey']))
    check(key.get_bits() == 3072, 'paramiko.RSAKey loads it (%d bits)' % key.get_bits())
raises(BusyWorkspaceDeployment, lambda: apic.request_instance(WD, sshkey=PUBKEY), 'request_instance(WD) again is busy')
d = apic.get_instance_info(inst)
check(d['id'] == inst and d['deployment'] == WD and d['type'] == 'ur5e', 'get_instance_info: id, deployment, type')
check(d['status'] == 'READY' and isinstance(d['starttime'], str) and 'region' in d, 'get_instance_info: READY, starttime, region')
check(d['fwd'] == {'ipv4': 'robot1.lab', 'port': 2222} and d['rootuser'] == 'root', 'get_instance_info: fwd and rootuser')
check(len(d['hostkeys']) == 1 and d['hostkeys'][0].startswith('ecdsa-sha2-nistp256 '), 'get_instance_info: hostkeys')
check(apic.get_instances() == [inst], 'get_instances() lists it')
lst, pages = apic.get_instances(page=1, max_per_page=10)
check(lst == [inst] and pages == 1, 'get_instances(page=1, max_per_page=10)')
apic.terminate_instance(inst)
check(apic.get_instance_info(inst)['status'] == 'TERMINATED', 'terminate_instance: status TERMINATED')
check('endtime' in apic.get_instance_info(inst), 'terminated instance has an endtime')
check(inst not in apic.get_instances(), 'get_instances() leaves it out')
check(inst in apic.get_instances(include_terminated=True), 'get_instances(include_terminated=True) has it')
raises(InstanceNotFound, lambda: apic.get_instance_info('00000000-0000-0000-0000-000000000000'), 'get_instance_info(unknown)')

# An instance with the member's own key, by type.
res = apic.request_instance('ur5e', sshkey=PUBKEY, duration=600)
check('sshkey' not in res and apic.get_instance_info(res['id'])['deployment'] == WD, 'request_instance(type, sshkey=...) books the ur5e')
apic.terminate_instance(res['id'])
check(apic.get_instance_info(res['id'])['status'] == 'TERMINATED', 'terminate_instance (2)')

# The Instance helper class picks a robot of the type and books it.
helper = Instance(['ur5e'], apic=apic)
check(helper.get_status() == 'READY', 'Instance(["ur5e"]).get_status() is READY')
details = helper.get_details()
check(details['conn']['ipv4'] == 'robot1.lab' and details['conn']['port'] == 2222, 'Instance.get_details() has the connection')
helper.terminate()
check(apic.get_instances() == [], 'Instance.terminate() ended it')

# Tokens: revoking one, then purging all (this needs the token routes of labgate).
c2 = APIClient(api_token=TOKEN2, base_uri=BASE, ignore_env=True)
check(c2.get_instances() is not None, 'second token works before revoking')
try:
    c2.revoke_token(token=TOKEN2)
except Error as e:
    fail('revoke_token: POST /api/revoke/<sha256> was refused (%s); it belongs to the tokens part of labgate' % e)
raises(WrongAuthToken, c2.get_instances, 'revoke_token(token=...): the token stops working')
check(apic.get_instances() is not None, 'the first token still works')
try:
    apic.purge()
except Error as e:
    fail('purge: POST /api/purge was refused (%s); it belongs to the tokens part of labgate' % e)
raises(WrongAuthToken, apic.get_instances, 'purge(): every token of the member stops working')
raises(WrongAuthToken, ro.get_instances, 'purge() ended the ro token too')
print('ALL OK')
