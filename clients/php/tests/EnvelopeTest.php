<?php

declare(strict_types=1);

namespace Kassagate\Tests;

use Kassagate\Envelope;
use Kassagate\Exception\KeysError;
use Kassagate\PublicKeys;

return static function (Harness $t): void {
    $t->test('envelope: a layer is base64(HMAC-SHA512 . IV . AES-256-CTR), the key RSA-OAEP-SHA1', static function (): void {
        $keys = LocalKeys::make();
        $plaintext = Envelope::encodeJson(['name' => 'чай / tea']);
        same('{"name":"чай / tea"}', $plaintext, 'compact UTF-8 JSON, unescaped');
        $k = implode('', array_map('chr', range(0, 31)));
        $iv = implode('', array_map('chr', range(100, 115)));
        [$keyB64, $dataB64] = Envelope::encryptLayer($plaintext, $keys->public->rsaFirst, $keys->hmacFirst, $k, $iv);
        $wrapped = base64_decode($keyB64, true);
        $data = base64_decode($dataB64, true);
        same(256, strlen($wrapped), 'one RSA-2048 block');
        same(64 + 16 + strlen($plaintext), strlen($data), 'data length');
        $c = substr($data, 80);
        same($iv, substr($data, 64, 16), 'IV after the HMAC');
        same(hash_hmac('sha512', $iv . $c, $keys->hmacFirst, true), substr($data, 0, 64), 'HMAC over IV . C');
        same($plaintext, ctrReference($k, $iv, $c), 'CTR with the IV as counter block');
        check(openssl_private_decrypt($wrapped, $unwrapped, $keys->rsaFirst, OPENSSL_PKCS1_OAEP_PADDING), 'OAEP-SHA1 unwrap');
        same($k, $unwrapped, 'the wrapped AES key');
        // fresh K and IV by default: two encryptions of the same text differ
        $again = Envelope::encryptLayer($plaintext, $keys->public->rsaFirst, $keys->hmacFirst);
        check($again[1] !== Envelope::encryptLayer($plaintext, $keys->public->rsaFirst, $keys->hmacFirst)[1], 'random IV');
    });

    $t->test('envelope: the 128-bit counter carries over all 16 bytes', static function (): void {
        $keys = LocalKeys::make();
        $k = str_repeat("\x07", 32);
        $iv = str_repeat("\xff", 16); // the second block's counter wraps to zero
        $plaintext = str_repeat("\0", 40);
        [, $dataB64] = Envelope::encryptLayer($plaintext, $keys->public->rsaFirst, $keys->hmacFirst, $k, $iv);
        $c = substr(base64_decode($dataB64, true), 80);
        same(ctrReference($k, $iv, $plaintext), $c, 'keystream');
        $zero = openssl_encrypt(str_repeat("\0", 16), 'aes-256-ecb', $k, OPENSSL_RAW_DATA | OPENSSL_ZERO_PADDING);
        same(bin2hex($zero), bin2hex(substr($c, 16, 16)), 'block 2 = AES(K, 0^128)');
    });

    $t->test('envelope: openLayer decrypts and refuses a flipped bit or another key', static function (): void {
        $keys = LocalKeys::make();
        [$a, $d] = Envelope::encryptLayer('{"x":1}', $keys->public->rsaSecond, $keys->hmacSecond);
        same('{"x":1}', Envelope::openLayer($a, $d, $keys->rsaSecond, $keys->hmacSecond), 'round trip');
        $raw = base64_decode($d, true);
        $raw[strlen($raw) - 1] = chr(ord($raw[strlen($raw) - 1]) ^ 1);
        $e = throws(\UnexpectedValueException::class, static fn () => Envelope::openLayer($a, base64_encode($raw), $keys->rsaSecond, $keys->hmacSecond));
        same('HMAC does not verify', $e->getMessage(), 'flipped bit');
        $e = throws(\UnexpectedValueException::class, static fn () => Envelope::openLayer($a, $d, $keys->rsaFirst, $keys->hmacSecond));
        same('RSA decryption failed', $e->getMessage(), 'other key pair');
    });

    $t->test('envelope: seal puts the receipt in layer 1 and the account and RID in layer 2', static function (): void {
        $keys = LocalKeys::make();
        $receipt = ['kassaid' => '123456', 'kassatoken' => 'secret-token', 'cms' => 'shop', 'name_zakaz' => 'Заказ 7'];
        $body = Envelope::seal($receipt, $keys->public, '123456', 'secret-token', 'order-7');
        same(['aab', 'dde', 'test'], array_keys($body), 'wire body fields');
        same('0', $body['test'], 'test flag');
        $layer2 = json_decode(Envelope::openLayer($body['aab'], $body['dde'], $keys->rsaSecond, $keys->hmacSecond), true);
        same(['ab', 'de', 'kassaid', 'kassatoken', 'check_type', 'test', 'rid'], array_keys($layer2), 'layer 2 fields');
        same(['123456', 'secret-token', 'standart', '0', 'order-7'], [$layer2['kassaid'], $layer2['kassatoken'], $layer2['check_type'], $layer2['test'], $layer2['rid']], 'layer 2 values');
        $inner = Envelope::openLayer($layer2['ab'], $layer2['de'], $keys->rsaFirst, $keys->hmacFirst);
        same(Envelope::encodeJson($receipt), $inner, 'layer 1 plaintext');
        $test = Envelope::seal($receipt, $keys->public, '123456', 'secret-token', null, true);
        same('1', $test['test'], 'outer test flag');
        $layer2 = json_decode(Envelope::openLayer($test['aab'], $test['dde'], $keys->rsaSecond, $keys->hmacSecond), true);
        check(!array_key_exists('rid', $layer2), 'no rid key without a RID');
        same('1', $layer2['test'], 'layer 2 test flag');
    });

    $t->test('keys: the published JSON is parsed, bad keys are refused with the field named', static function (): void {
        $keys = LocalKeys::make();
        $parsed = PublicKeys::fromJson(json_encode($keys->json + ['generation' => '2']));
        check($parsed->equals($keys->public), 'the same keys from the JSON text');
        same(PublicKeys::fingerprint($keys->json['rsa_first']), $parsed->fingerprints[0], 'fingerprint of rsa_first');
        $der = base64_decode(preg_replace('/-----[A-Z ]+-----|\s+/', '', $keys->json['rsa_second']), true);
        same('sha256//' . base64_encode(hash('sha256', $der, true)), $parsed->fingerprints[1], 'pin = SHA-256 of the DER SubjectPublicKeyInfo');
        check($parsed->matchesPins($parsed->fingerprints), 'matches its own pins');
        check(!$parsed->matchesPins([$parsed->fingerprints[0]]), 'both keys must be pinned');
        foreach ([
            ['rsa_first', 'garbage', 'rsa_first: not a PEM public key'],
            ['rsa_second', null, 'rsa_second: expected a PEM string'],
            ['hmac_first', '***', 'hmac_first: not base64'],
            ['hmac_second', '', 'hmac_second: empty key'],
        ] as [$field, $value, $message]) {
            $e = throws(KeysError::class, static fn () => PublicKeys::fromJson([$field => $value] + $keys->json));
            same($message, $e->getMessage(), $field);
        }
        throws(KeysError::class, static fn () => PublicKeys::fromJson('["x"]'));
        $dump = print_r($parsed, true);
        check(!str_contains($dump, base64_encode($keys->hmacFirst)), 'print_r shows no key material');
    });
};
