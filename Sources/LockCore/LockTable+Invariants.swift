import PalisadeProtocol

extension LockTable {
    /// Checks the table's internal invariants and describes each one that does not hold.
    /// Tests call this after every step; an empty answer means the table is consistent.
    public func invariantViolations() -> [String] {
        var violations: [String] = []
        let owned = leasesByOwner.values.reduce(into: Set<LeaseID>()) { $0.formUnion($1) }
        if owned != Set(leases.keys) || leasesByOwner.values.contains(where: \.isEmpty)
            || leasesByOwner.contains(where: { owner, ids in ids.contains { leases[$0]?.owner != owner } })
        {
            violations.append("the leases by owner do not match the leases")
        }
        var tokensSeen = Set<UInt64>()
        for (name, record) in locks {
            if record.isIdle { violations.append("lock '\(name)' has an idle record") }
            let modes = Set(record.holders.values.map(\.mode))
            if modes.count > 1 { violations.append("lock '\(name)' is held in both modes") }
            if modes == [.exclusive], record.holders.count > 1 {
                violations.append("lock '\(name)' has \(record.holders.count) exclusive holders")
            }
            for (lease, grant) in record.holders {
                if grant.lease != lease || grant.name != name {
                    violations.append("lock '\(name)' files a grant under the wrong key")
                }
                if leases[lease]?.held.contains(name) != true {
                    violations.append("lock '\(name)' is held by lease \(lease), which does not list it")
                }
                if !tokensSeen.insert(grant.token.rawValue).inserted {
                    violations.append("token \(grant.token) is held twice")
                }
                if grant.token.rawValue > tokens.lastIssued {
                    violations.append("token \(grant.token) was never issued")
                }
            }
            var queued = Set<LeaseID>()
            for waiter in record.queue {
                if !queued.insert(waiter.lease).inserted {
                    violations.append("lease \(waiter.lease) waits twice for '\(name)'")
                }
                if record.holders[waiter.lease] != nil {
                    violations.append("lease \(waiter.lease) holds and waits for '\(name)'")
                }
                if leases[waiter.lease]?.waiting.contains(name) != true {
                    violations.append("lock '\(name)' has a waiter whose lease does not list it")
                }
            }
            if let head = record.queue.first, record.delayedUntil == nil, record.admits(head.mode) {
                violations.append("lock '\(name)' has a grantable head waiter that was not woken")
            }
        }
        for (id, lease) in leases {
            for name in lease.held where locks[name]?.holders[id] == nil {
                violations.append("lease \(id) lists '\(name)' it does not hold")
            }
            for name in lease.waiting where locks[name]?.queue.contains(where: { $0.lease == id }) != true {
                violations.append("lease \(id) lists a wait for '\(name)' that is not queued")
            }
        }
        return violations
    }
}
