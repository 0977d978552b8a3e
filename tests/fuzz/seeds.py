#!/usr/bin/env python3
"""seeds.py - derives seed inputs of fuzz_engine from the tree's own
(tests/fuzz/corpus/cmp/): the DER of a recorded request is edited (a
template without its key, or naming only the key's algorithm, no POP) and
its last two octets, which fuzz_engine reads as selectors (fuzz_env.h,
docs/hacking.md), are set. The protection is not recomputed: the target
protects every decodable input again. Run from the top of the tree:

    python3 tests/fuzz/seeds.py

writes tests/fuzz/corpus/cmp/seed-kga-*.der, seed-up-*.der,
seed-ccr-otherkey.der, seed-ccr-badkey.der, seed-nonce-*.der,
seed-unprot-*.der, seed-krr-*.der, seed-nest-*.der and
seed-up-signed-*.der.
"""
import os

CORPUS = 'tests/fuzz/corpus/cmp'


def parse(b):
    """DER into [tag, content or children, constructed] nodes."""
    out, i = [], 0
    while i < len(b):
        tag, ln = b[i], b[i + 1]
        i += 2
        if ln & 0x80:
            n = ln & 0x7f
            ln = int.from_bytes(b[i:i + n], 'big')
            i += n
        c = b[i:i + ln]
        out.append([tag, parse(c) if tag & 0x20 else c, bool(tag & 0x20)])
        i += ln
    return out


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    s = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(s)]) + s


def enc(nodes):
    r = b''
    for tag, c, con in nodes:
        body = enc(c) if con else c
        r += bytes([tag]) + enc_len(len(body)) + body
    return r


def reqmsgs(msg):
    """The CertReqMsg nodes of an ir/cr/kur body."""
    return msg[0][1][1][1][0][1]


def template(crm):
    return crm[1][0][1][1][1]


def drop_key(crm, keep_alg=None):
    """No publicKey ([6]) in the template, or one with only the algorithm
    keep_alg (DER of an AlgorithmIdentifier) and an empty key."""
    t = template(crm)
    t[:] = [n for n in t if n[0] != 0xa6]
    if keep_alg is not None:
        t.append([0xa6, parse(keep_alg) + [[0x03, b'\x00', False]], True])
        t.sort(key=lambda n: n[0])


def drop_pop(crm):
    crm[1][:] = crm[1][:1] + [n for n in crm[1][1:] if n[0] == 0x30]


def selectors(der, b2, last):
    """The last two octets of der become b2 and last (they are the end of
    the protection or of the last extraCerts signature)."""
    return der[:-2] + bytes([b2, last])


def write(name, der):
    with open(os.path.join(CORPUS, name), 'wb') as f:
        f.write(der)


def load(name):
    with open(os.path.join(CORPUS, name), 'rb') as f:
        return parse(f.read())


RSA = bytes.fromhex('300d06092a864886f70d0101010500')
EC_P256 = bytes.fromhex('301306072a8648ce3d020106082a8648ce3d030107')
EC_P384 = bytes.fromhex('301006072a8648ce3d020106052b81040022')


def kga():
    # name, source, key (None: none; else the algorithm), POP kept,
    # selectors (b2, last): last 0x00 accepts the certificate, 0x01
    # rejects it in certConf; 0x18 signs as the approval RA; b2 0x0e
    # sends the request to fuzz-up.
    cases = [
        ('mac-nokey', 'osc-ir.der', None, False, 0x00, 0x00),
        ('mac-rsa', 'osc-ir.der', RSA, False, 0x00, 0x01),
        ('mac-p256', 'osc-ir.der', EC_P256, False, 0x00, 0x00),
        ('mac-p384', 'osc-ir.der', EC_P384, False, 0x00, 0x00),
        ('mac-pop', 'osc-ir.der', None, True, 0x00, 0x00),
        ('mac-up', 'osc-ir.der', None, False, 0x0e, 0x04),
        ('mac-cr', 'osc-cr.der', None, False, 0x00, 0x00),
        ('sig-ir', 'osc-ir-sig.der', None, False, 0x00, 0x00),
        ('sig-kur', 'osc-kur.der', None, False, 0x00, 0x00),
        ('sig-ra-wait', 'osc-ir-sig.der', None, False, 0x00, 0x18),
    ]
    # Two requests under the single-use secret (b2 0x0b): the second has
    # no use left; the same ir again is refused (used up).
    msg = load('osc-ir.der')
    crms = reqmsgs(msg)
    drop_key(crms[0])
    drop_pop(crms[0])
    second = parse(enc([crms[0]]))[0]
    second[1][0][1][0][1] = b'\x01'  # certReqId 1
    crms.append(second)
    write('seed-kga-once-two.der', selectors(enc(msg), 0x0b, 0x00))
    for name, src, alg, pop, b2, last in cases:
        msg = load(src)
        for crm in reqmsgs(msg):
            drop_key(crm, alg)
            if not pop:
                drop_pop(crm)
        write('seed-kga-%s.der' % name, selectors(enc(msg), b2, last))


def up_wait():
    # b2 0xce: fuzz-up under its approval secret. last (with 0x04, the
    # fuzz-up reference as senderKID): 0x04 left undecided, 0x06
    # approved then the polled certificate accepted, 0x0e rejected,
    # 0x46 approved and the certificate's hash wrong in certConf.
    for last in (0x04, 0x06, 0x0e, 0x46):
        write('seed-up-wait-ir-%02x.der' % last,
              selectors(enc(load('osc-ir.der')), 0xce, last))
    # b2 0x0e: fuzz-up under its own secret; last 0x4e: the certificate
    # accepted in certConf, then revoked by the device through the RA.
    write('seed-up-rr.der', selectors(enc(load('osc-ir.der')), 0x0e, 0x4e))
    # Approved, and upstream's answer at the poll twisted: 0xde waiting
    # (polled twice), 0xee a certificate of another key, 0xfe rejected.
    for b2 in (0xde, 0xee, 0xfe):
        write('seed-up-wait-ir-twist%x.der' % (b2 >> 4),
              selectors(enc(load('osc-ir.der')), b2, 0x06))
    write('seed-up-wait-p10cr.der',
          selectors(enc(load('osc-p10cr.der')), 0xce, 0x04))


def up_rr():
    # rr at fuzz-up (b2 0x0e, last 0x04: fuzz-up's reference), each
    # refused by the RA before anything goes upstream.
    def variant(name, edit):
        m = load('osc-rr-mac.der')
        edit(m[0][1][1][1][0][1])
        write('seed-up-rr-%s.der' % name, selectors(enc(m), 0x0e, 0x04))

    def two(rds):
        rds.append(rds[0])

    def no_issuer(rds):
        cd = rds[0][1][0][1]
        cd[:] = [n for n in cd if n[0] != 0xa3]

    def bad_reason(rds):
        rds[0][1][1][1][0][1][1][1] = bytes.fromhex('0a0163')

    def other_issuer(rds):
        name = rds[0][1][0][1][1][1][0][1]
        name[-1][1][0][1][1][1] = b'Other CA'

    variant('two', two)
    variant('noissuer', no_issuer)
    variant('badreason', bad_reason)
    variant('otherissuer', other_issuer)
    # The brokered certificate revoked, the upstream CA twisted for the
    # rr alone: 0x1e no answer, 0x2e an error body.
    for b2 in (0x1e, 0x2e):
        write('seed-up-rr-twist%x.der' % (b2 >> 4),
              selectors(enc(load('osc-ir.der')), b2, 0x4e))


def ccr():
    # A ccr (signed by the partner: fuzz_resign) for the partner's name,
    # unbound (last 0x06): its template key another than the pinned one,
    # or one that does not decode.
    name = [[0x30, [
        [0x31, [[0x30, [[0x06, bytes.fromhex('55040a'), False],
                        [0x0c, b'cmpca fuzz', False]], True]], True],
        [0x31, [[0x30, [[0x06, bytes.fromhex('550403'), False],
                        [0x0c, b'Partner CA', False]], True]], True]],
        True]]
    other_key = template(reqmsgs(load('osc-ir.der'))[0])
    other_key = [n for n in other_key if n[0] == 0xa6][0]
    bad_key = [0xa6, [[0x30, [[0x06, bytes.fromhex('2a0304'), False]], True],
                      [0x03, b'\x00\x01\x02', False]], True]
    for tag, key in (('otherkey', other_key), ('badkey', bad_key)):
        m = load('seed-ccr-partner.der')
        t = template(reqmsgs(m)[0])
        for i, n in enumerate(t):
            if n[0] == 0xa5:
                t[i] = [0xa5, name, True]
            elif n[0] == 0xa6:
                t[i] = key
        write('seed-ccr-%s.der' % tag, selectors(enc(m), 0x00, 0x06))


def stale_nonce():
    # b2 0x1b: the certConf (last 0x00) and the pollReq (seed-ir-ra-wait,
    # its own last octet) carry a recipNonce that is not the CA's.
    write('seed-nonce-certconf.der',
          selectors(enc(load('osc-ir.der')), 0x1b, 0x00))
    der = enc(load('seed-ir-ra-wait.der'))
    write('seed-nonce-pollreq.der', selectors(der, 0x1b, der[-1]))


def unprotected():
    # No protectionAlg, no protection: a genm the fuzz stack accepts
    # unprotected (allow_unprotected = genm). The last octets are the
    # body's own and stay (they select nothing that signs).
    for src in ('osc-genm.der', 'osc-genm-signKeyPairTypes.der'):
        m = load(src)
        hdr = m[0][1][0][1]
        m[0][1][0][1] = [n for n in hdr if n[0] != 0xa1]
        m[0][1] = m[0][1][:2]
        write('seed-unprot-%s' % src[4:], enc(m))
        # At fuzz-up (b2 0x0e; the OID's last octets change): an RA
        # takes protected requests only.
        if src == 'osc-genm.der':
            write('seed-unprot-up-%s' % src[4:],
                  selectors(enc(m), 0x0e, 0x04))


def krr():
    # After a kga (the key archived: archive_keys on the fuzz stack), b2
    # 0x2b to 0x7b: a krr of the confirmed certificate under the same
    # credential, signed by the RA, by the end entity (another subject),
    # under the single-use secret, by the RA under ra_revoke_scope
    # profile and any, with the archived key gone or another's, twice
    # (fuzz_engine.c's recover). last 0x06 accepts (the reference
    # ours), 0x24 binds the ir to the end entity (signed by it, its
    # subject: the holder), 0x30 to the RA (signed by it).
    for src, tag, algs in (('osc-ir.der', 'mac', (None, RSA)),
                           ('osc-ir-sig.der', 'sig', (None,))):
        for alg in algs:
            for b2 in range(0x2b, 0xac, 0x10):
                msg = load(src)
                for crm in reqmsgs(msg):
                    drop_key(crm, alg)
                    drop_pop(crm)
                name = 'seed-krr-%s%s-%x.der' % (
                    tag, '-rsa' if alg else '', b2 >> 4)
                write(name, selectors(enc(msg), b2, 0x06))
    for last, who in ((0x24, 'holder'), (0x30, 'ra')):
        msg = load('osc-ir-sig.der')
        for crm in reqmsgs(msg):
            drop_key(crm)
            drop_pop(crm)
        write('seed-krr-%s.der' % who, selectors(enc(msg), 0x2b, last))
    # A krr body (an ir's CertReqMessages under tag [9]): as it is (no
    # serialNumber), bound to the end entity's certificate (0x24: signed
    # by it, not archived), by the RA (0x30) under each revocation scope
    # (b2 0x0c, 0x1c, 0x2c) and about the earlier certificate (0x8c),
    # and with two CertReqMsgs.
    def as_krr(two=False):
        m = load('osc-ir.der')
        m[0][1][1][0] = 0xa9
        if two:
            reqmsgs(m).append(reqmsgs(m)[0])
        return enc(m)
    for b2, last in ((0x00, 0x06), (0x00, 0x24), (0x0c, 0x30),
                     (0x1c, 0x30), (0x2c, 0x30), (0x8c, 0x24)):
        write('seed-krr-body-%02x-%02x.der' % (b2, last),
              selectors(as_krr(), b2, last))
    write('seed-krr-body-two.der', selectors(as_krr(True), 0x00, 0x06))
    # krr templates that name a certificate by serialNumber: of another
    # issuer, with a POP, of an unknown serial; the last at an upstream
    # identity (b2 0x0e fuzz-up, 0x0a fuzz-nestmac), which recovers none.
    other = [[0x31, [[0x30, [[0x06, bytes.fromhex('550403'), False],
                             [0x0c, b'Other CA', False]], True]], True]]

    def krr_tmpl(issuer, pop):
        m = load('osc-ir.der')
        m[0][1][1][0] = 0xa9
        crm = reqmsgs(m)[0]
        t = template(crm)
        t[:] = [[0x81, b'\x7a\xbc\xde\xf0\x12\x34', False]]
        if issuer:
            t.append([0xa3, [[0x30, other, True]], True])
        if not pop:
            drop_pop(crm)
        return enc(m)
    write('seed-krr-tmpl-issuer.der',
          selectors(krr_tmpl(True, False), 0x00, 0x06))
    write('seed-krr-tmpl-pop.der', selectors(krr_tmpl(False, True), 0x00, 0x06))
    for b2 in (0x00, 0x0e, 0x0a):
        write('seed-krr-tmpl-unknown-%02x.der' % b2,
              selectors(krr_tmpl(False, False), b2, 0x06))


def nest():
    # b2 0x0a to 0xba: the RA fuzz-nestmac (--sign-ca --nested), its
    # nested answers twisted by the high half (fuzz_engine.c's
    # nest_twist); 0xfa: fuzz-nest (--sign-ca). last 0x06 a MAC
    # under our reference, the certificate accepted; 0x07 rejected, 0x04
    # an error message, 0x05 a pollReq (0x25, 0x22, 0x23 the same for
    # the bound kur); 0x24 bound to the end entity
    # fuzz-nestmac brokered (a kur of its certificate, an ir or cr for
    # its name, signed with it: nested as signed).
    for b2 in range(0x0a, 0x100, 0x10):
        write('seed-nest-ir-%02x.der' % b2,
              selectors(enc(load('osc-ir.der')), b2, 0x06))
        write('seed-nest-kur-%02x.der' % b2,
              selectors(enc(load('osc-kur.der')), b2, 0x24))
    for last, klast in ((0x07, 0x25), (0x04, 0x22), (0x05, 0x23)):
        write('seed-nest-ir-0a-%02x.der' % last,
              selectors(enc(load('osc-ir.der')), 0x0a, last))
        write('seed-nest-kur-0a-%02x.der' % klast,
              selectors(enc(load('osc-kur.der')), 0x0a, klast))
    for src in ('osc-cr.der', 'osc-p10cr.der', 'osc-ir-sig.der',
                'osc-rr-mac.der', 'osc-genm.der'):
        for last in (0x06, 0x24):
            write('seed-nest-%s-%02x.der' % (src[4:-4], last),
                  selectors(enc(load(src)), 0x0a, last))
        write('seed-nest-%s-fa.der' % src[4:-4],
              selectors(enc(load(src)), 0xfa, 0x24))
    # A kga ir nested; two CertReqMsgs (one per nested request only).
    msg = load('osc-ir.der')
    for crm in reqmsgs(msg):
        drop_key(crm)
        drop_pop(crm)
    write('seed-nest-kga.der', selectors(enc(msg), 0x0a, 0x06))
    msg = load('osc-ir.der')
    reqmsgs(msg).append(reqmsgs(msg)[0])
    write('seed-nest-two.der', selectors(enc(msg), 0x0a, 0x06))
    # 0xea: the upstream does not answer the device's certConf (0x06) or
    # error (0x04), nested.
    # 0xbb: fuzz-nestmac's secret of the profile approval (refused).
    write('seed-nest-wait-ir.der',
          selectors(enc(load('osc-ir.der')), 0xbb, 0x06))
    write('seed-nest-ir-ea-04.der',
          selectors(enc(load('osc-ir.der')), 0xea, 0x04))


def up_signed():
    # b2 0x0e (fuzz-up), last 0x24: bound to the end entity fuzz-up
    # brokered and signed with its certificate: a kur, cr or ir fuzz-up
    # would have to nest but does not sign upstream (nor an rr: refused
    # alike).
    for src in ('osc-kur.der', 'osc-cr.der', 'osc-rr.der'):
        write('seed-up-signed-%s' % src[4:],
              selectors(enc(load(src)), 0x0e, 0x24))


if __name__ == '__main__':
    up_signed()
    krr()
    nest()
    kga()
    up_wait()
    up_rr()
    ccr()
    stale_nonce()
    unprotected()
