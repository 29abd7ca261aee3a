/** A loopback port nobody listens on right now (the OS picks it): the one the local fleet uses. */
export { freeLoopbackPort } from '../../src/fleet/local/free-port.js';
