<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{{title}} · ralph-watch</title>
<link rel="stylesheet" href="/static/style.css">
% if csrf:
<meta name="csrf-token" content="{{csrf}}">
% end
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">ralph-watch</a>
  <nav>
    <a href="/">Status</a>
    <a href="/calendar">Calendar</a>
    <a href="/privacy">Privacy</a>
    % if password_mode and signed_in:
    <form method="post" action="/signout" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit" class="link">Sign out</button>
    </form>
    % end
  </nav>
</header>
<main>
% for kind, text in flashes:
<p class="flash flash-{{kind}}" role="status">{{text}}</p>
% end
{{!base}}
</main>
<footer>
  <a href="/privacy">Privacy policy</a>{{!' · <a href="/terms">Terms of service</a>' if get('terms_link', False) else ''}} · publishes through TikTok's official Content Posting API
</footer>
</body>
</html>
