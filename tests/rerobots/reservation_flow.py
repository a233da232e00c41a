#!/usr/bin/env python3
"""Waiting in line with the stock rerobots 0.11.0 client against a labgate server.

Run by the ignored Rust test `rerobots::stock_client_reservations`, which sets up the server
and these variables:

  LABGATE_URL          base URI including /api, no trailing slash
  LABGATE_TOKEN        rw token of the member who waits in line
  LABGATE_OTHER_TOKEN  rw token of the member who holds the only ur5e
  LABGATE_HELD         the id of that member's running instance
  LABGATE_PUBKEY       an SSH public key line

Prints one line per check; exits 1 with "FAIL: ..." on the first mismatch.
"""
import os
import sys

from rerobots.api import APIClient, BusyWorkspaceDeployment


def fail(message):
    print('FAIL: ' + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print('ok   ' + message)


env = os.environ
BASE, TOKEN, OTHER, HELD, PUBKEY = (env['LABGATE_URL'], env['LABGATE_TOKEN'], env['LABGATE_OTHER_TOKEN'],
                                    env['LABGATE_HELD'], env['LABGATE_PUBKEY'])
apic = APIClient(api_token=TOKEN, base_uri=BASE, ignore_env=True)
other = APIClient(api_token=OTHER, base_uri=BASE, ignore_env=True)

try:
    apic.request_instance('ur5e', sshkey=PUBKEY)
    fail('request_instance(busy type) should raise BusyWorkspaceDeployment')
except BusyWorkspaceDeployment:
    print('ok   without reserve a busy type raises BusyWorkspaceDeployment')

check(apic.get_reservations() == [], 'get_reservations() is empty at first')
res = apic.request_instance('ur5e', sshkey=PUBKEY, reserve=True)
check(res.get('success') is False and isinstance(res.get('id'), str), 'reserve=True on a busy type returns a reservation: %r' % res)
listed = apic.get_reservations()
check([r['id'] for r in listed] == [res['id']], 'get_reservations() lists it')
check(listed[0]['desc'] == 'type ur5e' and 'created' in listed[0], 'it says what it waits for and since when')
apic.cancel_reservation(res['id'])
check(apic.get_reservations() == [], 'cancel_reservation() removes it')

res = apic.request_instance('ur5e', sshkey=PUBKEY, reserve=True, duration=600)
check(res.get('success') is False, 'reserve=True again')
check(apic.get_instances() == [], 'no instance while waiting')
other.terminate_instance(HELD)
instances = apic.get_instances()
check(len(instances) == 1, 'after the running instance is terminated, get_instances() shows the new one: %r' % instances)
info = apic.get_instance_info(instances[0])
check(info['status'] == 'READY' and info['type'] == 'ur5e', 'it is READY on the ur5e')
check(apic.get_reservations() == [], 'the reservation has left the line')
apic.terminate_instance(instances[0])
print('ALL OK')
