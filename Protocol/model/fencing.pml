/*
 * Palisade's fencing contract as a Promela model, for the spin model checker.
 *
 * NC clients each take one lock ROUNDS times through the lock service, write once under it through
 * the network to the gateway, wait for the answer, and release. A holder may pause at any point:
 * LeaseExpiry may end the current holder's lease at any moment, after which another client can be
 * granted the lock with a higher token. Writes travel through the `net` channel, so they may be
 * delayed past the expiry of their writer's lease.
 *
 * Safety: no write is accepted from a client that is not the lock's current holder, and accepted
 * tokens never decrease. With GATEWAY_CHECK (Palisade's commit-point check: the token is at least
 * the highest recorded, and it is the live holder's) spin proves it for every interleaving. Without
 * it the gateway accepts what it is sent, and spin finds the paused-writer counterexample.
 *
 * Run: Protocol/model/check.sh (both variants; it fails unless both results are as expected).
 */
#define NC 3
#define ROUNDS 2
#define NONE 255

byte holder = NONE;     /* the client whose live lease holds the lock */
byte issued = 0;        /* the last fencing token the lock service granted */
byte highest = 0;       /* the highest token recorded by the gateway for the lock */
byte lastAccepted = 0;  /* the token of the last accepted write */

chan net = [NC] of { byte, byte };   /* writes in flight: (client, token) */
chan answer[NC] = [1] of { bool };   /* the gateway's answer to each client */

active [NC] proctype Client() {
    byte me = _pid;
    byte token;
    byte round = 0;
    bool accepted;
    do
    :: round < ROUNDS ->
        atomic { holder == NONE -> holder = me; issued++; token = issued };
        /* The client may pause here, or its write may be delayed in the network: LeaseExpiry can run. */
        net ! me, token;
        answer[me] ? accepted;
        atomic { if :: holder == me -> holder = NONE :: else -> skip fi };
        round++
    :: else -> break
    od
}

/* A holder's lease runs out (its client paused past the TTL): the lock is free again. */
active proctype LeaseExpiry() {
end:
    do
    :: atomic { holder != NONE -> holder = NONE }
    od
}

/* The storage gateway: each write commits (or not) in one atomic step. */
active proctype Gateway() {
    byte writer, token;
end:
    do
    :: net ? writer, token ->
        atomic {
#ifdef GATEWAY_CHECK
            if
            :: token >= highest && holder == writer ->
                highest = token;
                assert(holder == writer);
                assert(token >= lastAccepted);
                lastAccepted = token;
                answer[writer] ! true
            :: else ->
                answer[writer] ! false   /* StaleFencingToken or LockNotHeld: nothing changes */
            fi
#else
            assert(holder == writer);    /* accepted whatever it carries */
            answer[writer] ! true
#endif
        }
    od
}
