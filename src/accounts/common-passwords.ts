/**
 * The most common passwords of public breach corpora (lowercase; the check lowercases too), refused
 * at account creation and password change. Short entries are listed even though the length rule
 * already refuses them, so raising or lowering `accounts.minPasswordLength` keeps the list useful.
 * Operators extend it with `accounts.breachedPasswordsFile` (docs/accounts.md).
 */
export const COMMON_PASSWORDS: readonly string[] = [
  '123456', '123456789', '12345678', 'password', 'qwerty123', 'qwerty1', '111111', '12345', 'col123456',
  '123123', '1234567', '1234', '1234567890', '000000', '555555', '666666', '123321', '654321', '7777777',
  '123', 'd1lakiss', '777777', '110110jp', '1111', '987654321', '121212', 'gizli', 'abc123', '112233',
  'azerty', '159753', '1q2w3e4r', '54321', 'pass@123', '222222', 'qwertyuiop', 'qwerty', '123654',
  'iloveyou', 'a1b2c3', 'a123456', '1q2w3e4r5t', '1q2w3e', 'aa123456', 'password1', 'password123',
  'password12', 'password1234', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'p@ssword1', 'p@ssw0rd1', 'welcome',
  'welcome1', 'welcome123', 'admin', 'admin123', 'admin1234', 'administrator', 'root', 'toor', 'letmein',
  'letmein1', 'letmein123', 'monkey', 'dragon', 'football', 'baseball', 'master', 'sunshine', 'princess',
  'shadow', 'superman', 'batman', 'trustno1', 'michael', 'jennifer', 'jordan23', 'hunter2', 'hunter',
  'charlie', 'freedom', 'whatever', 'qazwsx', 'qazwsxedc', 'zaq12wsx', 'zxcvbnm', 'zxcvbn', 'asdfgh',
  'asdfghjkl', 'asdf1234', 'qwer1234', 'qwertyui', 'q1w2e3r4', 'q1w2e3r4t5', 'q1w2e3r4t5y6', '1qaz2wsx',
  '1qaz2wsx3edc', 'mustang', 'access', 'starwars', 'login', 'changeme', 'changeme123', 'secret',
  'secret123', 'test', 'test123', 'test1234', 'testtest', 'guest', 'default', 'computer', 'internet',
  'samsung', 'google', 'iloveyou1', 'loveme', 'lovely', 'flower', 'hello', 'hello123', 'hellohello',
  'killer', 'pokemon', 'soccer', 'hockey', 'ranger', 'buster', 'thomas', 'robert', 'daniel', 'andrew',
  'joshua', 'matthew', 'anthony', 'ashley', 'jessica', 'amanda', 'nicole', 'summer', 'winter', 'spring',
  'autumn', 'orange', 'banana', 'cheese', 'chocolate', 'cookie', 'pepper', 'ginger', 'maggie', 'buddy',
  'tigger', 'snoopy', 'purple', 'yellow', 'silver', 'golden', 'diamond', 'blink182', 'metallica',
  'liverpool', 'arsenal', 'chelsea', 'manchester', 'barcelona', 'jesus', 'blessed', 'angel', 'angel1',
  'babygirl', 'sweetheart', 'lovelove', 'iloveu', 'fuckyou', 'asshole', 'biteme', 'aaaaaa', 'aaaaaaaa',
  '11111111', '111111111', '1111111111', '00000000', '12341234', '12121212', '88888888', '99999999',
  '123qwe', '123qweasd', '123qweasdzxc', 'qwe123', 'qweasd', 'qweasdzxc', 'abcd1234', 'abcdef',
  'abcdefg', 'abcdefgh', 'abc12345', 'abc123456', '1234qwer', 'passpass', 'password!', 'password2',
  'password01', 'pa55word', 'pa$$word', 'mypassword', 'mypass', 'nopassword', 'unknown', 'whatever1',
  'qwerty12', 'qwerty1234', 'qwerty12345', 'qwertyuiop123', 'iloveyou2', 'myspace1', 'linkedin',
  'facebook', 'twitter', 'youtube', 'instagram', 'minecraft', 'fortnite', 'roblox', 'naruto',
  'superman1', 'batman1', 'spiderman', 'ironman', 'pokemon1', 'computer1', 'princess1', 'sunshine1',
  'football1', 'baseball1', 'monkey1', 'dragon1', 'shadow1', 'master1', 'michael1', 'charlie1',
  'jordan', 'harley', 'ranger1', 'matrix', 'cheese1', 'tinkerbell', 'elephant', 'butterfly',
  'corvette', 'ferrari', 'mercedes', 'porsche', 'yamaha', 'nirvana', 'zeppelin', 'slipknot',
];
