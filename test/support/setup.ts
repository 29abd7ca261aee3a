import fc from 'fast-check';

// Property tests must finish within CI's budget; a failing run still prints its seed.
fc.configureGlobal({ interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false });
