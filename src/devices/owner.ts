/** Who a device socket with a certificate of Herald's CA is bound to (its uaid's owner, docs/devices.md). */
export function ownerOfDevice(deviceId: string): string {
  return `cert:${deviceId}`;
}
