/** Herald's client library: a push device (PushDevice) and a Web Push sender (sendNotification). */
export { PushDevice, DeliveryError } from './device.js';
export type { PushDeviceOptions, PushDeviceEvents, PushMessage, ResetEvent, DisconnectEvent } from './device.js';
export type { WakeupHelloStatus } from './device.js';
export { judgeWakeupDatagram, WAKEUP_MAX_AGE_MS } from './wakeup.js';
export type { WakeupKeyState, WakeupListenOptions, WakeupRejection, WakeupVerdict } from './wakeup.js';
export { sendNotification } from './sender.js';
export type { SendOptions, SendResult, VapidDetails, ContentEncoding } from './sender.js';
export { parseSubscription, SubscriptionError } from './subscription.js';
export type { Subscription, SubscriptionInput, SubscriptionKeys } from './subscription.js';
export { StateFileError } from './state.js';
export type { DeviceState, ChannelState } from './state.js';
export type { NotificationHeaders } from './notification.js';
export { revokeSenderKey, revocationAuthorization } from './revoke.js';
export { getServiceToken, clientStateFor, IdentityError } from './identity.js';
export type { ServiceTokenOptions, ServiceToken } from './identity.js';
export { enrollDevice, renewDevice, EnrollmentError } from './enroll.js';
export type { DeviceCredentials, EnrollOptions } from './enroll.js';
