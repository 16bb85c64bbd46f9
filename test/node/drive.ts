/** Test helper: a node's Ready loop for one replica, synchronously (storage stays in memory until flushed). */
import type { GroupDriver } from '../../src/node/group-driver.js';

export function drain(driver: GroupDriver): void {
  while (driver.raw.hasReady()) {
    const rd = driver.raw.ready();
    driver.persist(rd);
    const held = driver.sendEarly(rd);
    driver.applyReady(rd);
    if (held) driver.sendHeld(held);
    driver.raw.advance();
  }
}
