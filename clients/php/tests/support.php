<?php

declare(strict_types=1);

namespace Kassagate\Tests;

use Kassagate\PublicKeys;

/**
 * A fresh RSA-2048 key pair: [private key, public PEM].
 *
 * @return array{0: \OpenSSLAsymmetricKey, 1: string}
 */
function rsaPair(): array
{
    $private = openssl_pkey_new(['private_key_bits' => 2048, 'private_key_type' => OPENSSL_KEYTYPE_RSA]);
    check($private !== false, 'openssl_pkey_new failed');
    return [$private, openssl_pkey_get_details($private)['key']];
}

/**
 * A server's key set made here: the published JSON and the private halves.
 */
final class LocalKeys
{
    public readonly PublicKeys $public;
    /** @var array<string, string> */
    public readonly array $json;

    public function __construct(
        public readonly \OpenSSLAsymmetricKey $rsaFirst,
        public readonly string $hmacFirst,
        public readonly \OpenSSLAsymmetricKey $rsaSecond,
        public readonly string $hmacSecond,
        string $pemFirst,
        string $pemSecond,
    ) {
        $this->json = [
            'rsa_first' => $pemFirst,
            'hmac_first' => base64_encode($hmacFirst),
            'rsa_second' => $pemSecond,
            'hmac_second' => base64_encode($hmacSecond),
        ];
        $this->public = PublicKeys::fromJson($this->json);
    }

    public static function make(): self
    {
        static $made = null;
        if ($made === null) {
            [$first, $pemFirst] = rsaPair();
            [$second, $pemSecond] = rsaPair();
            $made = new self($first, random_bytes(32), $second, random_bytes(32), $pemFirst, $pemSecond);
        }
        return $made;
    }
}

/**
 * AES-256-CTR computed block by block from AES-256-ECB, the 16-byte IV taken as one
 * 128-bit big-endian counter: an independent reference for the envelope's cipher.
 */
function ctrReference(string $key, string $iv, string $data): string
{
    $out = '';
    $counter = $iv;
    for ($at = 0; $at < strlen($data); $at += 16) {
        $block = openssl_encrypt($counter, 'aes-256-ecb', $key, OPENSSL_RAW_DATA | OPENSSL_ZERO_PADDING);
        $chunk = substr($data, $at, 16);
        $out .= $chunk ^ substr($block, 0, strlen($chunk));
        for ($i = 15; $i >= 0; $i--) {
            $byte = (ord($counter[$i]) + 1) & 0xFF;
            $counter[$i] = chr($byte);
            if ($byte !== 0) {
                break;
            }
        }
    }
    return $out;
}

/**
 * The fields of a receipt QR string (t=...&s=...&fn=...&i=...&fp=...&n=...).
 *
 * @return array<string, string>
 */
function qrFields(string $qr): array
{
    $fields = [];
    foreach (explode('&', $qr) as $part) {
        [$key, $value] = array_pad(explode('=', $part, 2), 2, null);
        check($value !== null, "QR part '$part' is not key=value");
        $fields[$key] = $value;
    }
    return $fields;
}
